"""``python -m etcd_recipes demo`` (the walkthrough on an embedded etcd) and ``... jobs ...``."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Dispatch the sub-command."""
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else ""
    if command == "demo":
        from .cli.demo import main as demo

        return demo(args[1:])
    if command == "jobs":
        from .cli.jobs import main as jobs

        return jobs(args[1:])
    print("usage: python -m etcd_recipes {demo|jobs} ...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
