"""Real etcd processes for tests and demos: one server, a cluster, a fault-injecting proxy.

Standard library only (``EtcdContainer`` needs the optional ``testcontainers``)::

    from etcd_recipes.testing import EtcdCluster, EtcdServer, FaultProxy

    with EtcdServer(fsync=False) as server:           # a free loopback port, a temp data dir
        ...server.endpoints...

    with EtcdCluster(3) as cluster:                    # ~0.2 s to a 3-member cluster
        cluster.leader().kill()
        cluster.leader()                               # the new one, ~0.3 s later

The pytest plugin (``etcd_recipes.testing.pytest_plugin``, loaded automatically) provides
the fixtures ``etcd_server``, ``etcd_endpoints``, ``etcd_client``, ``etcd_async_client``,
``etcd_cluster`` and ``etcd_key_prefix``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._binary import EtcdBinary, EtcdBinaryNotFound, find_etcd_binaries, find_etcd_binary
from ._cluster import EtcdCluster
from ._proxy import FaultProxy
from ._server import EtcdServer, EtcdStartError, TlsFiles
from ._tls import TlsBundle, make_tls_files

if TYPE_CHECKING:
    from ._container import EtcdContainer, docker_available

__all__ = [
    "EtcdBinary",
    "EtcdBinaryNotFound",
    "EtcdCluster",
    "EtcdContainer",
    "EtcdServer",
    "EtcdStartError",
    "FaultProxy",
    "TlsBundle",
    "TlsFiles",
    "docker_available",
    "find_etcd_binaries",
    "find_etcd_binary",
    "make_tls_files",
]


def __getattr__(name: str) -> Any:
    """Import the Docker backend only when asked for."""
    if name in ("EtcdContainer", "docker_available"):
        from . import _container

        return getattr(_container, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
