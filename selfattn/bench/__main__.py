"""Run one benchmark: ``python -m selfattn.bench {widget,attention,training} [options]``."""

from __future__ import annotations

import importlib
import sys

from . import BENCHMARKS

BENCHMARKS.setdefault("model", "selfattn.bench.model")  # all-MiniLM-L6-v2: NumPy against transformers


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in BENCHMARKS:
        print(f"usage: python -m selfattn.bench {{{','.join(BENCHMARKS)}}} [options]", file=sys.stderr)
        return 2
    module = importlib.import_module(BENCHMARKS[argv[0]])
    return module.main(argv[1:]) or 0


if __name__ == "__main__":
    sys.exit(main())
