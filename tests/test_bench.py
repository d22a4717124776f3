"""selfattn.bench: the cost measurements the multi-head chapter plots refuse bad sizes by name.

(Timings are measured by the benchmarks, never asserted; see README, "For contributors".)
"""

from __future__ import annotations

import re

import pytest

from selfattn.bench.attention import cost_measurements


@pytest.mark.parametrize("kwargs, words", [
    (dict(ns=None), "ns must be a list of sequence lengths, got None"),
    (dict(ns=16), "ns must be a list of sequence lengths, got 16"),
    (dict(ns=[]), "ns must hold at least one sequence length, got none"),
    (dict(ns=[16, 0]), "each of ns must be a positive integer, got 0"),
    (dict(ns=[16.5]), "each of ns must be a positive integer, got 16.5 (float)"),
    (dict(heads=0), "heads must be a positive integer, got 0"),
    (dict(heads=True), "heads must be a positive integer, got True (bool)"),
    (dict(d_head=2.0), "d_head must be a positive integer, got 2.0 (float)"),
    (dict(repeats=0), "repeats must be a positive integer, got 0"),
    (dict(block=-1), "block must be a positive integer, got -1"),
])
def test_cost_measurements_name_a_size_that_is_not_a_positive_whole_number(kwargs, words):
    args = dict(ns=[16], heads=1, d_head=4, repeats=1, block=8) | kwargs
    with pytest.raises(ValueError, match="^" + re.escape(words)):
        cost_measurements(**args)
