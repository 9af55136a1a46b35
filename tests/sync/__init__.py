# GENERATED from tests/async_/__init__.py by scripts/unasync.py -- do not edit.
