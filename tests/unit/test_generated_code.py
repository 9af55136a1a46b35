"""The committed protobuf/gRPC code in etcd_recipes/_pb matches protos/ and etcd's wire format."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf.message import Message

from etcd_recipes._pb import auth_pb2, kv_pb2, rpc_pb2, rpc_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]


def test_committed_code_matches_fresh_generation() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "genproto.py"), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("message", "field", "number"),
    [
        (kv_pb2.KeyValue, "key", 1),
        (kv_pb2.KeyValue, "create_revision", 2),
        (kv_pb2.KeyValue, "mod_revision", 3),
        (kv_pb2.KeyValue, "version", 4),
        (kv_pb2.KeyValue, "value", 5),
        (kv_pb2.KeyValue, "lease", 6),
        (kv_pb2.Event, "prev_kv", 3),
        (auth_pb2.Permission, "permType", 1),
        (auth_pb2.Permission, "range_end", 3),
        (auth_pb2.Role, "keyPermission", 2),
        (rpc_pb2.ResponseHeader, "raft_term", 4),
        (rpc_pb2.RangeRequest, "range_end", 2),
        (rpc_pb2.RangeRequest, "serializable", 7),
        (rpc_pb2.RangeRequest, "max_create_revision", 13),
        (rpc_pb2.PutRequest, "prev_kv", 4),
        (rpc_pb2.PutRequest, "ignore_lease", 6),
        (rpc_pb2.DeleteRangeResponse, "prev_kvs", 3),
        (rpc_pb2.RequestOp, "request_txn", 4),
        (rpc_pb2.Compare, "value", 7),
        (rpc_pb2.Compare, "lease", 8),
        (rpc_pb2.Compare, "range_end", 64),
        (rpc_pb2.WatchRequest, "progress_request", 3),
        (rpc_pb2.WatchCreateRequest, "progress_notify", 4),
        (rpc_pb2.WatchCreateRequest, "filters", 5),
        (rpc_pb2.WatchCreateRequest, "prev_kv", 6),
        (rpc_pb2.WatchCreateRequest, "watch_id", 7),
        (rpc_pb2.WatchCreateRequest, "fragment", 8),
        (rpc_pb2.WatchResponse, "compact_revision", 5),
        (rpc_pb2.WatchResponse, "cancel_reason", 6),
        (rpc_pb2.WatchResponse, "events", 11),
        (rpc_pb2.LeaseGrantRequest, "TTL", 1),
        (rpc_pb2.LeaseGrantRequest, "ID", 2),
        (rpc_pb2.LeaseTimeToLiveResponse, "grantedTTL", 4),
        (rpc_pb2.Member, "isLearner", 5),
        (rpc_pb2.StatusResponse, "dbSizeInUse", 9),
        (rpc_pb2.AuthStatusResponse, "authRevision", 3),
    ],
)
def test_field_numbers_match_etcd(message: type[Message], field: str, number: int) -> None:
    assert message.DESCRIPTOR.fields_by_name[field].number == number


def test_oneofs_and_enums() -> None:
    compare = rpc_pb2.Compare.DESCRIPTOR
    union = compare.oneofs_by_name["target_union"]
    assert [f.name for f in union.fields] == [
        "version",
        "create_revision",
        "mod_revision",
        "value",
        "lease",
    ]
    assert compare.fields_by_name["range_end"].containing_oneof is None
    assert rpc_pb2.Compare.NOT_EQUAL == 3
    assert rpc_pb2.Compare.LEASE == 4
    assert rpc_pb2.WatchCreateRequest.NODELETE == 1
    assert rpc_pb2.RangeRequest.DESCEND == 2
    assert rpc_pb2.AlarmType.Value("NOSPACE") == 1
    assert kv_pb2.Event.DELETE == 1
    assert auth_pb2.Permission.READWRITE == 2


def test_services_and_streaming() -> None:
    services = rpc_pb2.DESCRIPTOR.services_by_name
    assert {s.full_name for s in services.values()} == {
        "etcdserverpb.KV",
        "etcdserverpb.Watch",
        "etcdserverpb.Lease",
        "etcdserverpb.Cluster",
        "etcdserverpb.Maintenance",
        "etcdserverpb.Auth",
    }
    streaming = {
        (s.name, m.name): (m.client_streaming, m.server_streaming)
        for s in services.values()
        for m in s.methods
        if m.client_streaming or m.server_streaming
    }
    assert streaming == {
        ("Watch", "Watch"): (True, True),
        ("Lease", "LeaseKeepAlive"): (True, True),
        ("Maintenance", "Snapshot"): (False, True),
    }
    kv_methods = [m.name for m in services["KV"].methods]
    assert kv_methods == ["Range", "Put", "DeleteRange", "Txn", "Compact"]
    assert rpc_pb2.DESCRIPTOR.package == "etcdserverpb"
    assert kv_pb2.DESCRIPTOR.package == "mvccpb"
    assert auth_pb2.DESCRIPTOR.package == "authpb"


def test_generated_modules_use_relative_imports() -> None:
    # The generated modules must not rely on top-level ``kv_pb2``/``rpc_pb2`` modules.
    assert hasattr(rpc_pb2_grpc, "KVStub")
    for name in ("kv_pb2", "auth_pb2", "rpc_pb2"):
        assert name not in sys.modules
