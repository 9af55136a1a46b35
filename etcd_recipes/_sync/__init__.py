# GENERATED from etcd_recipes/_async/__init__.py by scripts/unasync.py -- do not edit.
"""Hand-written asyncio implementation; ``etcd_recipes/_sync`` is generated from it."""
