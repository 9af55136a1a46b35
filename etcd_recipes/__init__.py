"""etcd-recipes: a fast, typed etcd v3 client (sync and asyncio) with coordination recipes.

``Client`` and ``AsyncClient`` share one API (the sync one is generated from the async one).
"""

from ._async.auth import AsyncAuthAPI
from ._async.client import AsyncClient
from ._async.cluster import AsyncClusterAPI
from ._async.lease import AsyncLease
from ._async.maintenance import AsyncMaintenanceAPI
from ._async.recipes.barrier import AsyncBarrier, AsyncDoubleBarrier
from ._async.recipes.election import AsyncElection, AsyncElectionObserver
from ._async.recipes.lock import AsyncLock
from ._async.recipes.registry import AsyncServiceRegistration, AsyncServiceRegistry
from ._async.recipes.registry_cache import AsyncServiceCache
from ._async.recipes.rwlock import AsyncRWLock
from ._async.recipes.scheduler import AsyncJobContext, AsyncScheduler, AsyncSchedulerWorker
from ._async.recipes.semaphore import AsyncSemaphore
from ._async.recipes.session import AsyncSession
from ._async.txn import AsyncTxn
from ._async.watch import AsyncWatcher
from ._core.admin import (
    Alarm,
    AlarmType,
    AuthStatus,
    HashKVResponse,
    Member,
    MemberAddResponse,
    MemberListResponse,
    Permission,
    PermissionType,
    Role,
    SnapshotInfo,
    StatusResponse,
    User,
)
from ._core.election import (
    CampaignAbortedError,
    ElectionSessionLostError,
    LeaderInfo,
    LossReason,
    NotLeaderError,
)
from ._core.jobs import (
    InvalidJobError,
    JobExistsError,
    JobNotFoundError,
    JobSpec,
    JobStatus,
    RunCancelledError,
    RunningRun,
    RunOutcome,
    RunRecord,
    SchedulerError,
    UnknownHandlerError,
    WorkerInfo,
)
from ._core.locking import (
    BarrierFullError,
    BarrierTimeoutError,
    LockLostError,
    LockNotHeldError,
    LockTimeoutError,
    SessionExpiredError,
)
from ._core.ops import Compare, Op, SortOrder, SortTarget
from ._core.registry import (
    DownInstancePolicy,
    InvalidInstanceIdError,
    InvalidMetadataError,
    InvalidRegistrationError,
    InvalidServiceNameError,
    NoInstanceError,
    RegistrationLostError,
    RegistrationState,
    RegistryError,
    ServiceEvent,
    ServiceEventType,
    ServiceInstance,
)
from ._core.state import ConnectionState
from ._core.types import (
    CompactResponse,
    DeleteResponse,
    Event,
    EventType,
    GetResponse,
    KeyValue,
    KeyValues,
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
from ._sync.auth import AuthAPI
from ._sync.client import Client
from ._sync.cluster import ClusterAPI
from ._sync.lease import Lease
from ._sync.maintenance import MaintenanceAPI
from ._sync.recipes.barrier import Barrier, DoubleBarrier
from ._sync.recipes.election import Election, ElectionObserver
from ._sync.recipes.lock import Lock
from ._sync.recipes.registry import ServiceRegistration, ServiceRegistry
from ._sync.recipes.registry_cache import ServiceCache
from ._sync.recipes.rwlock import RWLock
from ._sync.recipes.scheduler import JobContext, Scheduler, SchedulerWorker
from ._sync.recipes.semaphore import Semaphore
from ._sync.recipes.session import Session
from ._sync.txn import Txn
from ._sync.watch import Watcher

__version__ = "0.1.0"

__all__ = [
    "Alarm",
    "AlarmType",
    "AsyncAuthAPI",
    "AsyncBarrier",
    "AsyncClient",
    "AsyncClusterAPI",
    "AsyncDoubleBarrier",
    "AsyncElection",
    "AsyncElectionObserver",
    "AsyncJobContext",
    "AsyncLease",
    "AsyncLock",
    "AsyncMaintenanceAPI",
    "AsyncRWLock",
    "AsyncScheduler",
    "AsyncSchedulerWorker",
    "AsyncSemaphore",
    "AsyncServiceCache",
    "AsyncServiceRegistration",
    "AsyncServiceRegistry",
    "AsyncSession",
    "AsyncTxn",
    "AsyncWatcher",
    "AuthAPI",
    "AuthStatus",
    "Barrier",
    "BarrierFullError",
    "BarrierTimeoutError",
    "CampaignAbortedError",
    "Client",
    "ClusterAPI",
    "CompactResponse",
    "Compare",
    "ConnectionState",
    "DeleteResponse",
    "DoubleBarrier",
    "DownInstancePolicy",
    "Election",
    "ElectionObserver",
    "ElectionSessionLostError",
    "Event",
    "EventType",
    "GetResponse",
    "HashKVResponse",
    "InvalidInstanceIdError",
    "InvalidJobError",
    "InvalidMetadataError",
    "InvalidRegistrationError",
    "InvalidServiceNameError",
    "JobContext",
    "JobExistsError",
    "JobNotFoundError",
    "JobSpec",
    "JobStatus",
    "KeyValue",
    "KeyValues",
    "LeaderInfo",
    "Lease",
    "LeaseKeepAliveResponse",
    "LeaseTimeToLive",
    "Lock",
    "LockLostError",
    "LockNotHeldError",
    "LockTimeoutError",
    "LossReason",
    "MaintenanceAPI",
    "Member",
    "MemberAddResponse",
    "MemberListResponse",
    "NoInstanceError",
    "NotLeaderError",
    "Op",
    "Permission",
    "PermissionType",
    "PutResponse",
    "RWLock",
    "RegistrationLostError",
    "RegistrationState",
    "RegistryError",
    "ResponseHeader",
    "Role",
    "RunCancelledError",
    "RunOutcome",
    "RunRecord",
    "RunningRun",
    "Scheduler",
    "SchedulerError",
    "SchedulerWorker",
    "Semaphore",
    "ServiceCache",
    "ServiceEvent",
    "ServiceEventType",
    "ServiceInstance",
    "ServiceRegistration",
    "ServiceRegistry",
    "Session",
    "SessionExpiredError",
    "SnapshotInfo",
    "SortOrder",
    "SortTarget",
    "StatusResponse",
    "Txn",
    "TxnResponse",
    "UnknownHandlerError",
    "User",
    "WatchFilter",
    "WatchResponse",
    "Watcher",
    "WorkerInfo",
    "__version__",
    *_exception_names,
]
