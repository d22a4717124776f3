"""Benchmark: what attention costs on this machine, against PyTorch's fast path.

``python -m selfattn.bench attention`` prints, from one run:

1. the measured float32 matrix-multiply rate (GFLOP/s), the ceiling for everything else;
2. at n = 1024 (12 heads, head size 64, float32): the median time of
   ``torch.nn.functional.scaled_dot_product_attention`` on the layout PyTorch users
   use, ``(batch, heads, n, d)``, with the backend PyTorch chose (on 3-D input
   ``(heads, n, d)`` the CPU build falls back to its slow "math" path, so a
   comparison there flatters NumPy); of ``selfattn.scaled_dot_product_attention``
   (checked and readable); and of the same five steps in bare NumPy with no checks
   (scale, max, exp, sum, divide), so the cost of the checks shows. Ratios to
   PyTorch; target for selfattn: at most 2.0;
3. at n = 16,384 (same heads): the time and peak memory of
   :func:`selfattn.blockwise.blockwise_attention` and of PyTorch's
   ``scaled_dot_product_attention`` (4-D), each in a fresh process, memory as the
   peak of the resident memory sampled every 0.5 ms during the call minus the memory
   in use just before it (so the inputs are excluded and the output included), beside
   the memory the plain version's weights alone would need (target: < 1 GiB);
4. grouped-query attention at n = 1024 (12 query heads, 4 key/value heads, head size
   64, float32, 4-D input): the median times of ``scaled_dot_product_attention(...,
   enable_gqa=True)`` and of :func:`selfattn.attention.grouped_query_attention`, their
   ratio, and PyTorch's backend.

On processors where the environment sets ``OPENBLAS_CORETYPE`` (see the
README of the machine), NumPy's BLAS runs an older kernel; the benchmark says so.
To measure the current kernel, unset it for this command alone:
``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m selfattn.bench attention``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
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


def _interleaved_medians(fns: dict, repeats: int) -> dict:
    """Median seconds of each function, timed in turn (after one warm-up each), so that a burst of
    load on a shared machine hits all of them alike."""
    times = {key: [] for key in fns}
    for fn in fns.values():
        fn()  # warm-up
    for _ in range(repeats):
        for key, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - t0)
    return {key: statistics.median(val) for key, val in times.items()}


def _inputs(batch: int, heads: int, n: int, d_head: int, seed: int = 0):
    """q, k, v of shape ``(batch, heads, n, d_head)``, float32, standard normal."""
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal((batch, heads, n, d_head), dtype=np.float32) for _ in range(3))


def torch_backend(q, k, v) -> str:
    """The name of the kernel ``torch.nn.functional.scaled_dot_product_attention`` picks for these tensors."""
    import torch
    from torch.nn.attention import SDPBackend

    return SDPBackend(torch._fused_sdp_choice(q, k, v)).name


def bare_numpy_attention(q, k, v):
    """The five steps with no checks at all: the floor for a NumPy attention."""
    s = q @ np.swapaxes(k, -1, -2)  # (..., n, n)
    s *= np.float32(1 / np.sqrt(q.shape[-1]))
    s -= s.max(axis=-1, keepdims=True)
    np.exp(s, out=s)
    s /= s.sum(axis=-1, keepdims=True)
    return s @ v


def matmul_rate(size: int = 2048, repeats: int = 5) -> float:
    """Measured float32 matmul rate in GFLOP/s for ``(size, size) @ (size, size)``."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    t = _median_time(lambda: a @ b, repeats)
    return 2 * size**3 / t / 1e9


def compare_with_torch(n: int = 1024, heads: int = 12, d_head: int = 64, repeats: int = 9) -> dict:
    """Median times of PyTorch's attention (4-D), selfattn's and bare NumPy's, same float32 inputs."""
    import torch

    from selfattn import scaled_dot_product_attention

    q, k, v = _inputs(1, heads, n, d_head)  # (1, h, n, d): the layout PyTorch users use
    tq, tk, tv = (torch.from_numpy(a) for a in (q, k, v))
    with torch.no_grad():
        out_t = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv).numpy()
    out_np, _ = scaled_dot_product_attention(q, k, v)

    def run_torch():
        with torch.no_grad():
            torch.nn.functional.scaled_dot_product_attention(tq, tk, tv)

    fns = {"torch_s": run_torch, "selfattn_s": lambda: scaled_dot_product_attention(q, k, v),
           "bare_s": lambda: bare_numpy_attention(q, k, v)}
    res = _interleaved_medians(fns, repeats)
    res.update(
        ratio=res["selfattn_s"] / res["torch_s"], bare_ratio=res["bare_s"] / res["torch_s"],
        max_abs_diff=float(np.max(np.abs(out_np - out_t))), flops=4 * heads * n * n * d_head,
        backend=torch_backend(tq, tk, tv), backend_3d=torch_backend(tq[0], tk[0], tv[0]),
        torch_threads=torch.get_num_threads(),
    )
    return res


_CHILD = r"""
import ctypes, json, os, sys, threading, time
import numpy as np
n, heads, d_head, which, block = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
rng = np.random.default_rng(0)
q, k, v = (rng.standard_normal((1, heads, n, d_head), dtype=np.float32) for _ in range(3))
if which == "torch":
    import torch
    tq, tk, tv = (torch.from_numpy(a) for a in (q, k, v))
    with torch.no_grad():
        torch.nn.functional.scaled_dot_product_attention(tq[..., :64, :], tk[..., :64, :], tv[..., :64, :])
    def run():
        with torch.no_grad():
            return torch.nn.functional.scaled_dot_product_attention(tq, tk, tv).numpy()
else:
    from selfattn.blockwise import blockwise_attention
    blockwise_attention(q[..., :64, :], k[..., :64, :], v[..., :64, :])
    def run():
        return blockwise_attention(q, k, v, block_q=block, block_k=block)
page = os.sysconf("SC_PAGE_SIZE")
def rss():  # resident memory now, in bytes
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page
ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand freed memory back, so the baseline is what is in use
base = peak = rss()
done = False
def watch():
    global peak
    while not done:
        peak = max(peak, rss())
        time.sleep(0.0005)
t = threading.Thread(target=watch)
t.start()
t0 = time.perf_counter()
out = run()
seconds = time.perf_counter() - t0
done = True
t.join()
np.save(sys.argv[6], out[0, :, :64])
print(json.dumps({"seconds": seconds, "peak_growth_bytes": max(peak, rss()) - base}))
"""

def long_sequence(n: int = 16384, heads: int = 12, d_head: int = 64, block: int = 1024) -> dict:
    """Time and peak-memory growth of blockwise attention and of PyTorch's, each in a fresh process."""
    import tempfile

    from selfattn import scaled_dot_product_attention

    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        for which in ("blockwise", "torch"):
            path = os.path.join(tmp, f"{which}.npy")
            proc = subprocess.run([sys.executable, "-c", _CHILD, str(n), str(heads), str(d_head), which,
                                   str(block), path], capture_output=True, text=True, check=True)
            res[which] = json.loads(proc.stdout.strip().splitlines()[-1])
            res[which]["rows"] = np.load(path)
    q, k, v = _inputs(1, heads, n, d_head)
    plain, _ = scaled_dot_product_attention(q[0, :, :64], k[0], v[0])  # the first 64 rows, checked
    res["max_abs_diff"] = float(max(np.abs(res[w].pop("rows") - plain).max() for w in ("blockwise", "torch")))
    res["input_bytes"] = 3 * q.nbytes
    res["plain_weights_bytes"] = heads * n * n * 4
    return res


def cost_measurements(ns, heads: int = 4, d_head: int = 64, repeats: int = 3, block: int = 128) -> dict:
    """Time and peak memory of attention at each length in ``ns``, for the chapter's plot.

    Measures, at each ``n``: the fastest of ``repeats`` runs (the run least disturbed by
    other programs on a shared machine) of selfattn's NumPy attention and of
    PyTorch's ``scaled_dot_product_attention`` (on the 4-D layout ``(1, heads, n, d)``),
    and the peak memory traced by ``tracemalloc`` during one call of the NumPy version
    and of :func:`selfattn.blockwise.blockwise_attention` (inputs not included).
    Small sizes only: the book runs this.

    Returns
    -------
    dict of numpy.ndarray
        ``n``, ``numpy_s``, ``torch_s``, ``plain_peak_bytes``, ``blockwise_peak_bytes``.

    Raises
    ------
    ValueError
        If ``ns`` is not a non-empty list of positive whole numbers, or ``heads``,
        ``d_head``, ``repeats`` or ``block`` is not a positive whole number.

    Examples
    --------
    >>> from selfattn.bench.attention import cost_measurements
    >>> m = cost_measurements([16, 32], heads=1, d_head=4, repeats=1, block=8)
    >>> m["n"].tolist(), bool(m["blockwise_peak_bytes"][1] < m["plain_peak_bytes"][1])
    ([16, 32], True)
    """
    import torch

    from selfattn import scaled_dot_product_attention
    from selfattn import _checks
    from selfattn.blockwise import blockwise_attention

    ns = [_checks.positive_int(n, "each of ns") for n in _checks.sequence(ns, "ns", "sequence lengths")]
    _checks.non_empty(ns, "ns", "sequence length")
    heads, d_head = _checks.positive_int(heads, "heads"), _checks.positive_int(d_head, "d_head")
    repeats, block = _checks.positive_int(repeats, "repeats"), _checks.positive_int(block, "block")
    res = {key: [] for key in ("n", "numpy_s", "torch_s", "plain_peak_bytes", "blockwise_peak_bytes")}
    for n in ns:
        q, k, v = _inputs(1, heads, n, d_head)
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


def compare_gqa(n: int = 1024, heads: int = 12, kv_heads: int = 4, d_head: int = 64,
                repeats: int = 9) -> dict:
    """Median times of PyTorch's grouped-query attention (4-D, ``enable_gqa=True``) and selfattn's.

    Same float32 inputs: ``q`` ``(1, heads, n, d_head)``, ``k`` and ``v``
    ``(1, kv_heads, n, d_head)``; the two are run interleaved, ``repeats`` times each.

    Returns
    -------
    dict
        ``torch_s``, ``selfattn_s`` (medians, seconds), ``ratio`` (selfattn / PyTorch),
        ``max_abs_diff`` of the outputs, ``backend`` (PyTorch's choice) and ``torch_threads``.

    Examples
    --------
    >>> from selfattn.bench.attention import compare_gqa
    >>> c = compare_gqa(n=8, heads=4, kv_heads=2, d_head=4, repeats=1)
    >>> c["max_abs_diff"] < 1e-5, sorted(c)[:3]
    (True, ['backend', 'max_abs_diff', 'ratio'])
    """
    import torch

    from selfattn.attention import grouped_query_attention

    q = _inputs(1, heads, n, d_head, seed=0)[0]  # (1, h, n, d)
    k, v = _inputs(1, kv_heads, n, d_head, seed=1)[:2]  # (1, g, n, d)
    tq, tk, tv = (torch.from_numpy(a) for a in (q, k, v))

    def run_torch():
        with torch.no_grad():
            return torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, enable_gqa=True)

    fns = {"torch_s": run_torch, "selfattn_s": lambda: grouped_query_attention(q, k, v)}
    res = _interleaved_medians(fns, repeats)
    diff = np.abs(grouped_query_attention(q, k, v)[0] - run_torch().numpy()).max()
    res.update(ratio=res["selfattn_s"] / res["torch_s"], max_abs_diff=float(diff),
               backend=_gqa_backend(tq, tk, tv),
               torch_threads=torch.get_num_threads())
    return res


def _gqa_backend(q, k, v) -> str:
    """The kernel ``scaled_dot_product_attention(..., enable_gqa=True)`` picks for these tensors."""
    import torch
    from torch.nn.attention import SDPBackend

    return SDPBackend(torch._fused_sdp_choice(q, k, v, enable_gqa=True)).name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m selfattn.bench attention", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1024, help="sequence length of the NumPy/PyTorch comparison")
    parser.add_argument("--big-n", type=int, default=16384, help="sequence length of the long-sequence test")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--skip-big", action="store_true", help="skip the long-sequence test")
    parser.add_argument("--kv-heads", type=int, default=4,
                        help="key/value heads of the grouped-query comparison (12 query heads)")
    args = parser.parse_args(argv)

    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if os.environ.get(var):
            print(f"note: {var}={os.environ[var]} is set; NumPy's BLAS may run an older, slower kernel "
                  "(unset both for this command alone to measure the current one)")

    rate = matmul_rate(repeats=args.repeats)
    print(f"1. matmul ceiling (float32, 2048 x 2048 @ 2048 x 2048): {rate:,.1f} GFLOP/s")

    c = compare_with_torch(n=args.n, repeats=args.repeats)
    print(f"2. attention, n={args.n}, 12 heads, head size 64, float32, shape (1, 12, {args.n}, 64) "
          f"(medians of {args.repeats}, interleaved):")
    for label, key in (("torch.nn.functional.scaled_dot_product_attention", "torch_s"),
                       ("selfattn.scaled_dot_product_attention (checked)", "selfattn_s"),
                       ("bare NumPy, same five steps, no checks", "bare_s")):
        print(f"   {label:50s} {c[key] * 1e3:8.1f} ms ({c['flops'] / c[key] / 1e9:,.1f} GFLOP/s)")
    print(f"   PyTorch backend: {c['backend']} on 4-D input ({c['torch_threads']} threads); "
          f"on 3-D input (heads, n, d) it would be {c['backend_3d']}")
    verdict = "met" if c["ratio"] <= 2.0 else "NOT met"
    print(f"   ratio selfattn / PyTorch: {c['ratio']:.2f} (target <= 2.0: {verdict}); "
          f"bare NumPy / PyTorch: {c['bare_ratio']:.2f}; largest difference of outputs {c['max_abs_diff']:.1e}")

    if not args.skip_big:
        b = long_sequence(n=args.big_n)
        bw, tt = b["blockwise"], b["torch"]
        verdict = "met" if bw["peak_growth_bytes"] < GIB else "NOT met"
        print(f"3. long sequence, n={args.big_n:,}, 12 heads, head size 64, float32 (one run each, "
              f"fresh process; inputs {b['input_bytes'] / MIB:,.0f} MiB not counted):")
        print(f"   selfattn.blockwise.blockwise_attention       {bw['seconds']:6.1f} s, "
              f"peak memory growth {bw['peak_growth_bytes'] / MIB:7,.0f} MiB (target < 1024 MiB: {verdict})")
        print(f"   torch scaled_dot_product_attention (4-D)     {tt['seconds']:6.1f} s, "
              f"peak memory growth {tt['peak_growth_bytes'] / MIB:7,.0f} MiB")
        print(f"   ratio of times blockwise / PyTorch: {bw['seconds'] / tt['seconds']:.2f}; "
              f"the plain version's weights alone would need {b['plain_weights_bytes'] / GIB:.1f} GiB; "
              f"first 64 rows of both differ from plain attention by at most {b['max_abs_diff']:.1e}")

    g = compare_gqa(n=args.n, kv_heads=args.kv_heads, repeats=args.repeats)
    print(f"4. grouped-query attention, n={args.n}, 12 query heads, {args.kv_heads} key/value "
          f"heads, head size 64, float32, q (1, 12, {args.n}, 64), k and v "
          f"(1, {args.kv_heads}, {args.n}, 64) (medians of {args.repeats}, interleaved):")
    for label, key in (("torch scaled_dot_product_attention(enable_gqa=True)", "torch_s"),
                       ("selfattn.attention.grouped_query_attention", "selfattn_s")):
        print(f"   {label:52s} {g[key] * 1e3:8.1f} ms")
    print(f"   PyTorch backend: {g['backend']} ({g['torch_threads']} threads); ratio selfattn / "
          f"PyTorch: {g['ratio']:.2f}; largest difference of outputs {g['max_abs_diff']:.1e}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
