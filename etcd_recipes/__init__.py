"""etcd-recipes: a fast, typed etcd v3 client (sync and asyncio) with coordination recipes.

``Client`` and ``AsyncClient`` share one API (the sync one is generated from the async one).
"""

from ._async.client import AsyncClient
from ._async.lease import AsyncLease
from ._async.txn import AsyncTxn
from ._async.watch import AsyncWatcher
from ._core.ops import Compare, Op, SortOrder, SortTarget
from ._core.types import (
    CompactResponse,
    DeleteResponse,
    Event,
    EventType,
    GetResponse,
    KeyValue,
    LeaseKeepAliveResponse,
    LeaseTimeToLive,
    PutResponse,
    ResponseHeader,
    TxnResponse,
    WatchFilter,
    WatchResponse,
)
from ._exceptions import *  # noqa: F403
from ._exceptions import __all__ as _exception_names
from ._sync.client import Client
from ._sync.lease import Lease
from ._sync.txn import Txn
from ._sync.watch import Watcher

__version__ = "0.1.0"

__all__ = [
    "AsyncClient",
    "AsyncLease",
    "AsyncTxn",
    "AsyncWatcher",
    "Client",
    "CompactResponse",
    "Compare",
    "DeleteResponse",
    "Event",
    "EventType",
    "GetResponse",
    "KeyValue",
    "Lease",
    "LeaseKeepAliveResponse",
    "LeaseTimeToLive",
    "Op",
    "PutResponse",
    "ResponseHeader",
    "SortOrder",
    "SortTarget",
    "Txn",
    "TxnResponse",
    "WatchFilter",
    "WatchResponse",
    "Watcher",
    "__version__",
    *_exception_names,
]
