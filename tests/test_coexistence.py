"""etcd_recipes in one process with other packages that compile etcd's .proto files.

aetcd, etcd3aio, etcd-sdk-python and others register ``rpc.proto`` / ``kv.proto`` (packages
``etcdserverpb`` / ``mvccpb``) in protobuf's default descriptor pool. Ours live in a pool of
their own (``etcd_recipes._pb.POOL``), so a service moving from one of them to us can import
both. The test registers such files first, the way those packages do, in a fresh interpreter.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import sys
    from google.protobuf import descriptor_pb2, descriptor_pool

    # What another package's generated modules do on import (a different shape on purpose).
    F = descriptor_pb2.FieldDescriptorProto
    kv = descriptor_pb2.FileDescriptorProto(name="kv.proto", package="mvccpb", syntax="proto3")
    kv.message_type.add(name="KeyValue").field.add(
        name="key", number=1, type=F.TYPE_BYTES, label=F.LABEL_OPTIONAL
    )
    rpc = descriptor_pb2.FileDescriptorProto(
        name="rpc.proto", package="etcdserverpb", syntax="proto3", dependency=["kv.proto"]
    )
    rpc.message_type.add(name="PutRequest").field.add(
        name="key", number=1, type=F.TYPE_BYTES, label=F.LABEL_OPTIONAL
    )
    pool = descriptor_pool.Default()
    pool.AddSerializedFile(kv.SerializeToString())
    pool.AddSerializedFile(rpc.SerializeToString())

    import etcd_recipes

    endpoint, key = sys.argv[1], sys.argv[2]
    with etcd_recipes.Client([endpoint], timeout=5.0) as client:
        client.put(key, "both")
        print(client.get(key).kvs[0].value.decode())
    assert pool.FindMessageTypeByName("etcdserverpb.PutRequest").fields[0].name == "key"
    """
)


def test_importable_beside_other_etcd_stubs(
    etcd_endpoints: list[str], etcd_key_prefix: str
) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, etcd_endpoints[0], etcd_key_prefix + "k"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "both"
