"""Benchmark: how long ``train_induction`` takes, and what the model reaches.

``python -m selfattn.bench induction [--repeats N] [--seed S] [--steps K] [--trap-steps T]``
trains the two-layer decoder N times (default 1: one run takes most of a minute) with the
same seed, prints each wall-clock time of the training loop, the median, the first step at
which the held-out accuracy on the repeat reached 0.95, the held-out accuracies (training
lengths, the same lengths at unseen offsets, unseen lengths, the random first part) and the
head scores. Then it trains the trap (one fixed repeat length, 8) for T steps (default 200)
and prints the same accuracies.
The issue's targets: at most 60 s, accuracy >= 0.95 on both held-out sets, the first part
near chance (1/64).
"""

from __future__ import annotations

import argparse
import os
import statistics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m selfattn.bench induction")
    parser.add_argument("--repeats", type=int, default=1, help="training runs to time (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None,
                        help="AdamW steps (default: the recipe's)")
    parser.add_argument("--trap-steps", type=int, default=200,
                        help="steps of the fixed-length trap run (0 skips it; default 200)")
    args = parser.parse_args(argv)
    bad_steps = args.steps is not None and args.steps < 1
    if args.repeats < 1 or args.seed < 0 or bad_steps or args.trap_steps < 0:
        parser.error(f"need --repeats >= 1, --seed >= 0, --steps >= 1 and --trap-steps >= 0, got "
                     f"--repeats {args.repeats} --seed {args.seed} --steps {args.steps} "
                     f"--trap-steps {args.trap_steps}")

    import torch
    from torch.nn.attention import SDPBackend

    from selfattn import decoder, induction

    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if os.environ.get(var):
            print(f"note: {var}={os.environ[var]} is set; NumPy's BLAS may run an older, "
                  "slower kernel")
    steps = induction.STEPS if args.steps is None else args.steps
    q = torch.zeros(induction.BATCH_SIZE, induction.N_HEADS, induction.N_TOKENS,
                    induction.D_MODEL // induction.N_HEADS)  # (B, H, n, d_head), as in training
    backend = SDPBackend(torch._fused_sdp_choice(q, q, q, None, 0.0, True)).name
    print(f"training attention: torch.nn.functional.scaled_dot_product_attention on 4-D "
          f"(batch, heads, n, d_head) input, causal, backend {backend}")
    print(f"torch {torch.__version__}, training on 1 CPU thread, deterministic algorithms, "
          f"{torch.backends.cpu.get_cpu_capability()} CPU kernels (the shipped weights: AVX2); "
          f"{steps} steps of {induction.BATCH_SIZE} sequences of {induction.N_TOKENS} tokens")
    times = []
    for i in range(args.repeats):
        result = induction.train_induction(seed=args.seed, steps=steps)
        times.append(result.seconds)
        print(f"run {i + 1}: {result.seconds:.2f} s")
    median = statistics.median(times)
    print(f"training time, median of {args.repeats}: {median:.2f} s (target <= 60 s)")
    print(f"steps to 95% on the repeat (checked every {induction.EVAL_EVERY}): "
          f"{result.steps_to_95}")
    _accuracies(result, "")
    same = induction.heldout("same", size=200)
    _, weights = decoder.forward(result.model, same.ids)
    prev = induction.previous_token_score(weights)
    ind = induction.induction_score(weights, same.ids, same.on_repeat)
    for layer in range(prev.shape[0]):
        for head in range(prev.shape[1]):
            print(f"layer {layer} head {head}: previous-token score {prev[layer, head]:.3f}, "
                  f"induction score {ind[layer, head]:.3f}")
    if args.trap_steps:
        trap = induction.train_induction(seed=args.seed, steps=args.trap_steps, lengths=(8,))
        print(f"trap, trained on repeat length 8 only: {trap.seconds:.2f} s, "
              f"steps to 95%: {trap.steps_to_95}")
        _accuracies(trap, "trap ")
    return 0


def _accuracies(result, prefix: str) -> None:
    print(f"{prefix}held-out accuracy on the repeat, training lengths: "
          f"{result.heldout_accuracy:.4f} (target >= 0.95)")
    print(f"{prefix}held-out accuracy on the repeat, training lengths at unseen offsets: "
          f"{result.offsets_accuracy:.4f} (target >= 0.95)")
    print(f"{prefix}held-out accuracy on the repeat, unseen lengths: {result.lengths_accuracy:.4f}")
    print(f"{prefix}accuracy on the random first part: {result.first_part_accuracy:.4f} "
          f"(chance 1/64 = {1 / 64:.4f})")
