"""Generated protobuf and gRPC modules for the etcd v3 API.

Generated from protos/*.proto by scripts/genproto.py -- do not edit.
"""
