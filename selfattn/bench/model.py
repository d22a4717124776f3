"""Benchmark: all-MiniLM-L6-v2 in NumPy (:mod:`selfattn.pretrained`) against ``transformers``.

``python -m selfattn.bench model [--sentences 32] [--max-tokens 64] [--repeats 7]`` builds one
padded batch of seeded sentences of up to ``--max-tokens`` tokens and times, interleaved, the
forward pass of

1. :meth:`selfattn.pretrained.Encoder.forward` (NumPy, float32, every head's weights kept);
2. ``transformers.BertModel`` from the same files with its default attention
   (``attn_implementation="sdpa"``: ``torch.nn.functional.scaled_dot_product_attention``,
   no weights returned), under ``torch.inference_mode()``;
3. the same ``BertModel`` with ``attn_implementation="eager"`` and ``output_attentions=True``:
   the same outputs as the NumPy code.

It prints the median (and the fastest run) of each, the ratios NumPy / PyTorch (target: at most 2), the largest
difference of the last hidden states, PyTorch's thread count, which attention each
``BertModel`` runs, and whether ``OPENBLAS_CORETYPE`` is set (on such machines NumPy's BLAS
runs an older kernel; ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE`` measures the current one).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

WORDS = ("the cat sat on mat because it was tired animal did not cross street too wide dog ran "
         "after ball into garden while children played near old tree and birds sang over quiet river "
         "weather is lovely today so sunny outside he drove to stadium").split()


def sentences(count: int, max_tokens: int, tokenize, seed: int = 0) -> list:
    """``count`` seeded sentences of 3 words up to ``max_tokens`` tokens ([CLS] and [SEP] included).

    ``tokenize(text)`` gives the number of tokens; the first sentence is as long as allowed.
    """
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        n_words = max_tokens if i == 0 else int(rng.integers(3, max(4, max_tokens)))
        words = list(rng.choice(WORDS, size=n_words))
        while tokenize(" ".join(words)) > max_tokens:
            words.pop()
        out.append(" ".join(words))
    return out


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m selfattn.bench model", description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    if args.sentences < 1 or args.max_tokens < 3 or args.repeats < 1:
        parser.error("need --sentences >= 1, --max-tokens >= 3 and --repeats >= 1")

    import torch
    from transformers import BertModel

    from selfattn.pretrained import load_minilm, minilm_dir

    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if os.environ.get(var):
            print(f"note: {var}={os.environ[var]} is set; NumPy's BLAS may run an older, slower kernel "
                  "(unset both for this command alone to measure the current one)")
    encoder = load_minilm()
    texts = sentences(args.sentences, args.max_tokens, lambda s: len(encoder.tokenize(s)[0].ids))
    ids, lengths = encoder.batch(encoder.tokenize(texts))
    mask = torch.from_numpy((np.arange(ids.shape[1])[None, :] < lengths[:, None]).astype(np.int64))
    t_ids = torch.from_numpy(ids)
    models = {impl: BertModel.from_pretrained(str(minilm_dir()), attn_implementation=impl,
                                              local_files_only=True).eval()
              for impl in ("sdpa", "eager")}

    runs = {
        "numpy": lambda: encoder.forward(ids, lengths),
        "sdpa": lambda: models["sdpa"](t_ids, attention_mask=mask),
        "eager": lambda: models["eager"](t_ids, attention_mask=mask, output_attentions=True),
    }
    times = {k: [] for k in runs}
    with torch.inference_mode():
        for fn in runs.values():  # warm-up
            fn()
        for _ in range(args.repeats):  # interleaved, so a slow moment hits all three
            for k, fn in runs.items():
                times[k].append(_time(fn))
        hidden, _ = runs["numpy"]()
        ref = runs["eager"]().last_hidden_state.numpy()
    real = (np.arange(ids.shape[1])[None, :] < lengths[:, None])
    med = {k: statistics.median(v) for k, v in times.items()}
    best = {k: min(v) for k, v in times.items()}

    print(f"all-MiniLM-L6-v2 forward pass, {args.sentences} sentences of {lengths.min()} to {lengths.max()} "
          f"tokens, padded to {ids.shape[1]} (float32; medians of {args.repeats}, interleaved):")
    labels = {"numpy": "selfattn.pretrained (NumPy, every head's weights kept)",
              "sdpa": f"transformers BertModel, attention: {models['sdpa'].config._attn_implementation}",
              "eager": f"transformers BertModel, attention: {models['eager'].config._attn_implementation}, "
                       "with weights"}
    for k, label in labels.items():
        print(f"   {label:56s} {med[k] * 1e3:8.1f} ms (fastest {best[k] * 1e3:.1f} ms)")
    print(f"   PyTorch threads: {torch.get_num_threads()}")
    for k in ("sdpa", "eager"):
        r = med["numpy"] / med[k]
        print(f"   ratio NumPy / BertModel ({k}): {r:.2f} of the medians, {best['numpy'] / best[k]:.2f} of the "
              f"fastest runs (target <= 2.0: {'met' if r <= 2 else 'missed'})")
    print(f"   largest difference of the last hidden states (real tokens): "
          f"{np.max(np.abs(hidden - ref)[real]):.2e}")
    return 0
