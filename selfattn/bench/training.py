"""Benchmark: how long ``train_coreference`` takes, and what it reaches on held-out sentences.

``python -m selfattn.bench training [--repeats N] [--seed S]`` trains the model N times
(default 3) with the same seed, prints each wall-clock time, the median, and the held-out
accuracy and mean attention from "it" to the right noun. The issue's targets: at most
10 s of training, accuracy >= 0.95, attention >= 0.5.
"""

from __future__ import annotations

import argparse
import statistics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m selfattn.bench training")
    parser.add_argument("--repeats", type=int, default=3, help="training runs to time (default 3)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.seed < 0:
        parser.error(f"need --repeats >= 1 and --seed >= 0, got --repeats {args.repeats} --seed {args.seed}")

    from selfattn.training import train_coreference

    times = []
    for i in range(args.repeats):
        result = train_coreference(seed=args.seed)
        times.append(result.seconds)
        print(f"run {i + 1}: {result.seconds:.2f} s")
    median = statistics.median(times)
    print(f"training time, median of {args.repeats}: {median:.2f} s (target <= 10 s)")
    print(f"held-out accuracy: {result.heldout_accuracy:.4f} (target >= 0.95)")
    print(f'held-out mean attention "it" -> right noun: {result.heldout_attention:.4f} (target >= 0.5)')
    print(f"training accuracy: {result.train_accuracy:.4f}; "
          f"loss {result.losses[0]:.3f} at the first step, {result.losses[-1]:.3f} at the last")
    return 0
