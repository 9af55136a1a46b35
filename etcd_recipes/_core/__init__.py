"""Pure code shared by the asyncio and sync implementations: no I/O here."""
