"""One scheduler worker process for the multi-process scheduler tests.

    python tests/workers/scheduler_worker.py <async_|sync> '<json config>'

The worker's code lives in ``tests/async_/test_scheduler.py`` (``worker_main``), so that the sync
flavour is generated from the same source as the tests; this script only picks the flavour. The
worker runs until its stdin closes (or it is killed); each handler run appends a line to the
config's ``trace`` file.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

if __name__ == "__main__":
    flavour, config = sys.argv[1], json.loads(sys.argv[2])
    module = importlib.import_module(f"{flavour}.test_scheduler")
    module.worker_main(config)
