"""Coordination recipes built only from lease-bound keys, CAS transactions and watches."""
