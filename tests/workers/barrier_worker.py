"""One barrier worker process for the multi-process tests.

    python tests/workers/barrier_worker.py <async_|sync> <mode> '<json config>'

The worker's code lives in ``tests/async_/test_barrier.py`` (``worker_main``), so that the sync
flavour is generated from the same source as the tests; this script only picks the flavour. It
prints one JSON object per line (``{"ev": ..., "t": <monotonic clock>, ...}``) on stdout.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

if __name__ == "__main__":
    flavour, mode, config = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    module = importlib.import_module(f"{flavour}.test_barrier")
    module.worker_main(mode, config)
