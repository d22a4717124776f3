"""Benchmark: greedy generation with and without the KV cache (:mod:`selfattn.decoder`).

``python -m selfattn.bench generation [--prompt 16] [--lengths 64,256,1024] [--repeats 3]
[--d-model 64] [--layers 2] [--heads 2] [--vocab 64] [--seed 0]`` builds a decoder of the
induction recipe's size (d_model 64, 2 layers of 2 heads, vocabulary 64) with seeded random
weights and, for each length, generates that many tokens after a seeded prompt, with the cache
and without it (which runs the whole sequence again at every step), interleaved. It prints
the time per generated token (the median over the repeats of the run's total time / tokens
generated), the ratio without / with, whether both gave the same tokens, the bytes the cache
held at the end, the machine's load average, and whether ``OPENBLAS_CORETYPE`` is set.
Without the cache, step ``j`` costs O((n + j)^2 d) for the scores; with it, O((n + j) d):
the ratio grows with the length.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np


def _lengths(text: str) -> list:
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"need --lengths of positive whole numbers such as "
                                         f"64,256,1024, got {text!r}")
    return values


def random_decoder(vocab_size: int, d_model: int, n_layers: int, n_heads: int, seed: int):
    """A :class:`selfattn.decoder.Decoder` with seeded random weights (std 1 / sqrt(d_model))."""
    from selfattn.decoder import Decoder, parameter_shapes

    rng = np.random.default_rng(seed)
    params = {name: rng.normal(size=shp) / np.sqrt(d_model)
              for name, shp in parameter_shapes(vocab_size, d_model, n_layers).items()}
    for name in params:
        if name.endswith("gamma"):
            params[name] += 1.0
    return Decoder(params, n_heads)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m selfattn.bench generation",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--prompt", type=int, default=16, help="prompt tokens (default 16)")
    parser.add_argument("--lengths", type=_lengths, default=[64, 256, 1024],
                        help="tokens to generate, comma-separated (default 64,256,1024)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each (default 3)")
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=2)
    parser.add_argument("--vocab", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.prompt < 1:
        parser.error(f"need --prompt >= 1, got {args.prompt}")
    if args.repeats < 1:
        parser.error(f"need --repeats >= 1, got {args.repeats}")

    from selfattn.decoder import KVCache, generate

    if os.environ.get("OPENBLAS_CORETYPE"):
        print(f"note: OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']} is set; NumPy's BLAS may "
              "run an older, slower kernel (left as it is)")
    model = random_decoder(args.vocab, args.d_model, args.layers, args.heads, args.seed)
    prompt = np.random.default_rng(args.seed).integers(0, args.vocab, size=args.prompt)
    generate(model, prompt, 2, cache=True)  # warm-up
    generate(model, prompt, 2, cache=False)

    print(f"greedy generation, prompt of {args.prompt} tokens, random weights: d_model "
          f"{args.d_model}, {args.layers} layers x {args.heads} heads, vocab {args.vocab} "
          f"(float64; medians of {args.repeats}, interleaved)")
    print(f"   {'tokens':>7s} {'with cache':>15s} {'without cache':>15s} "
          f"{'ratio without / with':>21s} {'same tokens':>12s} {'cache bytes':>12s}")
    for n_new in args.lengths:
        times = {"with": [], "without": []}
        for _ in range(args.repeats):
            cache = KVCache(model.n_layers)
            t0 = time.perf_counter()
            fast, _ = generate(model, prompt, n_new, cache=cache)
            times["with"].append((time.perf_counter() - t0) / n_new)
            t0 = time.perf_counter()
            slow, _ = generate(model, prompt, n_new, cache=False)
            times["without"].append((time.perf_counter() - t0) / n_new)
        med = {k: statistics.median(v) for k, v in times.items()}
        same = "yes" if np.array_equal(fast, slow) else "NO"
        print(f"   {n_new:>7d} {med['with'] * 1e3:>12.3f} ms {med['without'] * 1e3:>12.3f} ms "
              f"{med['without'] / med['with']:>21.1f} {same:>12s} {cache.nbytes:>12d}")
    print("   (time per generated token; the cache holds every token but the last, "
          "2 x layers x heads x d_head x tokens x 8 bytes)")
    if hasattr(os, "getloadavg"):  # a shared machine: other work slows the longer runs most
        print(f"   load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    return 0
