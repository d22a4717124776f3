"""Benchmarks: ``python -m selfattn.bench <name>``. Each prints medians and ratios from one run.

Benchmarks measure; tests never assert timings (these machines are shared and noisy).
Each benchmark is a module here with a ``main(argv)`` function.
"""

BENCHMARKS = {
    "widget": "selfattn.bench.widget",
    "attention": "selfattn.bench.attention",
    "training": "selfattn.bench.training",
    "generation": "selfattn.bench.generation",
    "induction": "selfattn.bench.induction",
}
