"""etcd in a Docker container through the optional ``testcontainers`` package (extra ``docker``).

For machines without an etcd executable but with a Docker engine. Same ``endpoint`` /
``endpoints`` / ``client_url`` surface as :class:`EtcdServer`; no fault injection.
"""

from __future__ import annotations

import importlib
import os
import time
import urllib.error
from pathlib import Path
from types import TracebackType
from typing import Any

from ._server import EtcdStartError, _http_json

__all__ = ["EtcdContainer", "docker_available"]

DEFAULT_IMAGE = "quay.io/coreos/etcd:v3.5.17"
_CLIENT_PORT = 2379


def docker_available() -> bool:
    """Whether ``testcontainers`` is installed and a Docker engine answers a ping."""
    host = os.environ.get("DOCKER_HOST")
    if not host and not Path("/var/run/docker.sock").exists():
        return False
    try:
        importlib.import_module("testcontainers.core.container")
        docker: Any = importlib.import_module("docker")
    except ImportError:
        return False
    try:
        client = docker.from_env(timeout=5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # the docker SDK raises many unrelated types for "no engine"
        return False


class EtcdContainer:
    """A single-member etcd running in a Docker container.

    Example::

        with EtcdContainer() as etcd:
            client = etcd_recipes.Client(endpoints=etcd.endpoints)

    Args:
        image: the etcd image; its ``etcd`` executable must be on ``PATH``.
        fsync: ``False`` adds ``--unsafe-no-fsync`` (the image must be etcd >= 3.5).
        extra_args: more etcd flags.
        start_timeout: seconds to wait for ``/health``.
    """

    def __init__(
        self,
        image: str = DEFAULT_IMAGE,
        *,
        fsync: bool = False,
        extra_args: tuple[str, ...] = (),
        start_timeout: float = 60.0,
    ) -> None:
        self.image = image
        self._fsync = fsync
        self._extra_args = extra_args
        self.start_timeout = start_timeout
        self._container: Any = None
        self._host: str | None = None
        self._port: int | None = None

    @property
    def endpoint(self) -> str:
        """``"HOST:PORT"`` of the container's mapped client port."""
        if self._host is None or self._port is None:
            raise RuntimeError("EtcdContainer is not started")
        return f"{self._host}:{self._port}"

    @property
    def endpoints(self) -> list[str]:
        """``[endpoint]``."""
        return [self.endpoint]

    @property
    def client_url(self) -> str:
        """``"http://HOST:PORT"``."""
        return f"http://{self.endpoint}"

    def command(self) -> list[str]:
        """The etcd command line run inside the container."""
        args = [
            "etcd",
            "--name=default",
            "--data-dir=/tmp/etcd-data",
            f"--listen-client-urls=http://0.0.0.0:{_CLIENT_PORT}",
            f"--advertise-client-urls=http://127.0.0.1:{_CLIENT_PORT}",
            "--listen-peer-urls=http://127.0.0.1:2380",
            "--initial-advertise-peer-urls=http://127.0.0.1:2380",
            "--initial-cluster=default=http://127.0.0.1:2380",
            "--heartbeat-interval=10",
            "--election-timeout=100",
        ]
        if not self._fsync:
            args.append("--unsafe-no-fsync")
        return args + list(self._extra_args)

    def start(self) -> EtcdContainer:
        """Pull (if needed) and run the image; wait until ``/health`` is healthy.

        Raises:
            ImportError: ``testcontainers`` is not installed (``pip install etcd-recipes[docker]``).
            EtcdStartError: etcd did not become healthy in time.
        """
        module: Any = importlib.import_module("testcontainers.core.container")
        container = (
            module.DockerContainer(self.image)
            .with_exposed_ports(_CLIENT_PORT)
            .with_command(self.command())
        )
        container.start()
        self._container = container
        self._host = str(container.get_container_host_ip())
        self._port = int(container.get_exposed_port(_CLIENT_PORT))
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                if _http_json(self.client_url + "/health", timeout=1.0).get("health") == "true":
                    return self
            except (OSError, ValueError, AttributeError, urllib.error.URLError):
                pass
            if time.monotonic() >= deadline:
                logs = container.get_logs()
                self.stop()
                raise EtcdStartError(f"etcd container not healthy in time; logs: {logs!r}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop and remove the container."""
        container, self._container = self._container, None
        if container is not None:
            container.stop()
        self._host = self._port = None

    def __enter__(self) -> EtcdContainer:
        if self._container is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
