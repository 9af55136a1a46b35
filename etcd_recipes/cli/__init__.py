"""Command line: ``python -m etcd_recipes demo | jobs ...``."""
