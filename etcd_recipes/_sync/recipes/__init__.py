# GENERATED from etcd_recipes/_async/recipes/__init__.py by scripts/unasync.py -- do not edit.
"""Coordination recipes built only from lease-bound keys, CAS transactions and watches."""
