"""Generated protobuf and gRPC modules for the etcd v3 API.

Generated from protos/*.proto by scripts/genproto.py -- do not edit.

The descriptors live in a pool of their own (``POOL``), not in protobuf's default pool:
other packages that compile etcd's .proto files (aetcd, etcd3aio, etcd-sdk-python, ...)
register the same file and message names there, and both can then be imported in one
process.
"""

from google.protobuf import descriptor_pool as _descriptor_pool

POOL = _descriptor_pool.DescriptorPool()
