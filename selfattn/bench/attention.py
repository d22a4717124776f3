"""Benchmark: what attention costs on this machine.

``python -m selfattn.bench attention`` prints, from one run:

1. the measured float32 matrix-multiply rate (GFLOP/s), the ceiling for everything else;
2. the time of selfattn's NumPy attention and of
   ``torch.nn.functional.scaled_dot_product_attention`` at n = 1024 (12 heads,
   head size 64, float32), medians over repeats, and their ratio (target: <= 2.5);
3. the peak memory of :func:`selfattn.blockwise.blockwise_attention` at
   n = 16,384 (same heads), measured with ``tracemalloc``, beside the memory the
   plain version's weights alone would need (target: < 1 GiB).

On processors where the environment sets ``OPENBLAS_CORETYPE`` (see the
README of the machine), NumPy's BLAS runs an older kernel; unset it for this
command alone to measure the current one:
``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m selfattn.bench attention``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import tracemalloc

import numpy as np

GIB = 2**30
MIB = 2**20


def _times(fn, repeats: int) -> list:
    fn()  # warm-up: first call pays for allocation and thread start-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def _median_time(fn, repeats: int) -> float:
    return statistics.median(_times(fn, repeats))


def _min_time(fn, repeats: int) -> float:
    return min(_times(fn, repeats))


def matmul_rate(size: int = 2048, repeats: int = 5) -> float:
    """Measured float32 matmul rate in GFLOP/s for ``(size, size) @ (size, size)``."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    t = _median_time(lambda: a @ b, repeats)
    return 2 * size**3 / t / 1e9


def compare_with_torch(n: int = 1024, heads: int = 12, d_head: int = 64, repeats: int = 7) -> dict:
    """Median times of selfattn's NumPy attention and PyTorch's, same float32 inputs."""
    import torch

    from selfattn import scaled_dot_product_attention

    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((heads, n, d_head), dtype=np.float32) for _ in range(3))
    tq, tk, tv = (torch.from_numpy(a) for a in (q, k, v))
    out_np, _ = scaled_dot_product_attention(q, k, v)
    with torch.no_grad():
        out_t = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv).numpy()
    max_diff = float(np.max(np.abs(out_np - out_t)))

    def run_torch():
        with torch.no_grad():
            torch.nn.functional.scaled_dot_product_attention(tq, tk, tv)

    t_np = _median_time(lambda: scaled_dot_product_attention(q, k, v), repeats)
    t_torch = _median_time(run_torch, repeats)
    flops = 4 * heads * n * n * d_head  # Q K^T and A V, 2 FLOPs per multiply-add
    return {"numpy_s": t_np, "torch_s": t_torch, "ratio": t_np / t_torch, "max_abs_diff": max_diff,
            "flops": flops, "torch_threads": torch.get_num_threads()}


def blockwise_peak(n: int = 16384, heads: int = 12, d_head: int = 64, block: int = 1024) -> dict:
    """Peak traced memory (inputs included) and time of blockwise attention at length ``n``."""
    from selfattn import scaled_dot_product_attention
    from selfattn.blockwise import blockwise_attention

    tracemalloc.start()
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((heads, n, d_head), dtype=np.float32) for _ in range(3))
    inputs = tracemalloc.get_traced_memory()[0]
    t0 = time.perf_counter()
    out = blockwise_attention(q, k, v, block_q=block, block_k=block)
    seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # spot check against the plain version on the first rows (its weights for 64 rows are small)
    rows = 64
    plain, _ = scaled_dot_product_attention(q[:, :rows], k, v)
    max_diff = float(np.max(np.abs(out[:, :rows] - plain)))
    return {"peak_bytes": peak, "input_bytes": inputs, "seconds": seconds, "max_abs_diff": max_diff,
            "plain_weights_bytes": heads * n * n * 4}


def scaling_measurements(ns, heads: int = 4, d_head: int = 64, repeats: int = 3, block: int = 128) -> dict:
    """Time and peak memory of attention at each length in ``ns``, for the chapter's plot.

    Measures, at each ``n``: the fastest of ``repeats`` runs (the run least disturbed by
    other programs on a shared machine) of selfattn's NumPy attention and of
    PyTorch's ``scaled_dot_product_attention``, and the peak memory traced by
    ``tracemalloc`` during one call of the NumPy version and of
    :func:`selfattn.blockwise.blockwise_attention` (inputs not included).
    Small sizes only: the book runs this.

    Returns
    -------
    dict of numpy.ndarray
        ``n``, ``numpy_s``, ``torch_s``, ``plain_peak_bytes``, ``blockwise_peak_bytes``.
    """
    import torch

    from selfattn import scaled_dot_product_attention
    from selfattn.blockwise import blockwise_attention

    res = {key: [] for key in ("n", "numpy_s", "torch_s", "plain_peak_bytes", "blockwise_peak_bytes")}
    rng = np.random.default_rng(0)
    for n in ns:
        q, k, v = (rng.standard_normal((heads, n, d_head), dtype=np.float32) for _ in range(3))
        tq, tk, tv = (torch.from_numpy(a) for a in (q, k, v))
        res["n"].append(n)
        res["numpy_s"].append(_min_time(lambda: scaled_dot_product_attention(q, k, v), repeats))
        with torch.no_grad():
            res["torch_s"].append(_min_time(
                lambda: torch.nn.functional.scaled_dot_product_attention(tq, tk, tv), repeats))
        for key, fn in (("plain_peak_bytes", lambda: scaled_dot_product_attention(q, k, v)),
                        ("blockwise_peak_bytes", lambda: blockwise_attention(q, k, v, block_q=block,
                                                                             block_k=block))):
            tracemalloc.start()
            fn()
            res[key].append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
    return {key: np.array(val) for key, val in res.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m selfattn.bench attention", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1024, help="sequence length of the NumPy/PyTorch comparison")
    parser.add_argument("--big-n", type=int, default=16384, help="sequence length of the memory test")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--skip-big", action="store_true", help="skip the memory test")
    args = parser.parse_args(argv)

    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if os.environ.get(var):
            print(f"note: {var}={os.environ[var]} is set; NumPy's BLAS may run an older, slower kernel")

    rate = matmul_rate(repeats=args.repeats)
    print(f"1. matmul ceiling (float32, 2048 x 2048 @ 2048 x 2048): {rate:,.1f} GFLOP/s")

    c = compare_with_torch(n=args.n, repeats=args.repeats)
    print(f"2. attention, n={args.n}, 12 heads, head size 64, float32 (median of {args.repeats}):")
    print(f"   selfattn (NumPy)                         {c['numpy_s'] * 1e3:8.1f} ms "
          f"({c['flops'] / c['numpy_s'] / 1e9:,.1f} GFLOP/s)")
    print(f"   torch.nn.functional.scaled_dot_product   {c['torch_s'] * 1e3:8.1f} ms "
          f"({c['flops'] / c['torch_s'] / 1e9:,.1f} GFLOP/s, {c['torch_threads']} threads)")
    verdict = "met" if c["ratio"] <= 2.5 else "NOT met"
    print(f"   ratio NumPy / PyTorch: {c['ratio']:.2f} (target <= 2.5: {verdict}); "
          f"largest difference of outputs {c['max_abs_diff']:.1e}")

    if not args.skip_big:
        b = blockwise_peak(n=args.big_n)
        verdict = "met" if b["peak_bytes"] < GIB else "NOT met"
        print(f"3. blockwise attention, n={args.big_n:,}, 12 heads, head size 64, float32:")
        print(f"   peak traced memory {b['peak_bytes'] / MIB:,.0f} MiB (inputs {b['input_bytes'] / MIB:,.0f} MiB "
              f"included; target < 1024 MiB: {verdict}), time {b['seconds']:.1f} s")
        print(f"   the plain version's weights alone would need {b['plain_weights_bytes'] / GIB:.1f} GiB; "
              f"first 64 rows differ from it by at most {b['max_abs_diff']:.1e}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
