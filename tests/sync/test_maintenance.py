# GENERATED from tests/async_/test_maintenance.py by scripts/unasync.py -- do not edit.
"""Maintenance on real etcd: status, hash_kv, defragment, snapshots (checked by etcd's own
tool), and the NOSPACE alarm: typed error, then disarm + compact + defragment and writes work."""

from __future__ import annotations

import io
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from etcd_recipes import AlarmType, Client, InvalidArgumentError, NoSpaceError
from etcd_recipes.testing import EtcdServer

QUOTA = 1024 * 1024


@pytest.fixture(scope="module")
def server() -> Iterator[EtcdServer]:
    with EtcdServer(fsync=False) as etcd:
        yield etcd


@pytest.fixture
def quota_server() -> Iterator[EtcdServer]:
    # Commit every write at once, so the backend size (what the quota checks) is current.
    with EtcdServer(
        fsync=False, quota_backend_bytes=QUOTA, extra_args=["--backend-batch-limit=1"]
    ) as etcd:
        yield etcd


def _snapshot_status(etcd: EtcdServer, path: Path) -> dict[str, object] | None:
    """``etcdutl`` (3.5) or ``etcdctl`` (3.4) ``snapshot status`` of ``path``; None if neither
    tool is next to the etcd binary."""
    folder = etcd.binary.path.parent
    for exe in (folder / "etcdutl", folder / "etcdctl"):
        if exe.exists():
            done = subprocess.run(
                [str(exe), "snapshot", "status", str(path), "-w", "json"],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
                env={**os.environ, "ETCDCTL_API": "3"},
            )
            assert done.returncode == 0, done.stderr
            return dict(json.loads(done.stdout))
    return None


def test_status_hash_kv_and_defragment(server: EtcdServer) -> None:
    with Client(server.endpoints) as client:
        client.put("/m/a", "1")
        status = client.maintenance.status()
        assert status.version == server.binary.version_string
        assert status.db_size > 0 and 0 < status.db_size_in_use <= status.db_size
        assert status.is_leader and status.leader == status.member_id
        assert status.raft_index > 0 and status.raft_term > 0 and status.errors == ()
        assert not status.is_learner
        same = client.maintenance.status(endpoint=server.endpoint)
        assert same.member_id == status.member_id

        revision = (client.put("/m/b", "2")).header.revision
        first = client.maintenance.hash_kv(revision)
        assert first.hash == (client.maintenance.hash_kv(revision)).hash
        client.put("/m/c", "3")
        assert (client.maintenance.hash_kv()).hash != first.hash

        client.maintenance.defragment()
        client.maintenance.defragment(endpoint=server.endpoint)
        assert (client.get("/m/a")).value == b"1"
        with pytest.raises(InvalidArgumentError):
            client.maintenance.hash_kv(-1)


def test_snapshot_to_a_path_and_to_a_file_object(server: EtcdServer, tmp_path: Path) -> None:
    with Client(server.endpoints) as client:
        for i in range(20):
            client.put(f"/snap/{i}", "x" * 100)
        path = tmp_path / "backup.db"
        info = client.maintenance.snapshot(path)
        assert info.size == path.stat().st_size > 32 and len(info.sha256) == 64
        assert not (tmp_path / "backup.db.part").exists()
        buffer = io.BytesIO()
        other = client.maintenance.snapshot(buffer, endpoint=server.endpoint)
        assert other.size == len(buffer.getvalue()) > 32
    report = _snapshot_status(server, path)
    if report is not None:  # etcd's own tool reads it as a bolt database
        assert int(str(report["totalKey"])) >= 20
        assert int(str(report["totalSize"])) > 0


def test_nospace_alarm_then_recover(quota_server: EtcdServer) -> None:
    with Client(quota_server.endpoints) as client:
        assert client.maintenance.alarm_list() == ()
        value = b"v" * (64 * 1024)
        with pytest.raises(NoSpaceError) as full:
            for i in range(2 * QUOTA // len(value)):
                client.put(f"/fill/{i}", value)
        assert not full.value.outcome_unknown
        alarms = client.maintenance.alarm_list()
        assert [a.type for a in alarms] == [AlarmType.NOSPACE]
        with pytest.raises(NoSpaceError):  # while the alarm stands, every write is refused
            client.put("/small", "x")
        assert (client.maintenance.status()).errors  # the member reports it too

        deleted = client.delete("/fill/", prefix=True)
        assert deleted.deleted > 0
        client.compact(deleted.header.revision, physical=True)
        client.maintenance.defragment()
        assert client.maintenance.alarm_disarm() == alarms
        assert client.maintenance.alarm_list() == ()
        client.put("/small", "x")
        assert (client.get("/small")).value == b"x"
