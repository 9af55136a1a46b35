"""Hand-written asyncio implementation; ``etcd_recipes/_sync`` is generated from it."""
