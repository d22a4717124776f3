"""selfattn: the helper package of the self-attention course.

One small module per concept, mirroring the chapters:

* :mod:`selfattn.attention`: softmax, masks, scaled dot-product attention, ``SelfAttention``;
* :mod:`selfattn.heads`: ``split_heads``, ``merge_heads``, ``MultiHeadAttention``;
* :mod:`selfattn.example`: the running example "The cat sat on the mat because it was tired";
* :mod:`selfattn.plotting`: heatmaps and bar charts (needs matplotlib);
* :mod:`selfattn.nn`: PyTorch twins of the layers (needs torch).

The NumPy core is imported here; ``plotting`` and ``nn`` are imported on demand
so that ``import selfattn`` stays light.
"""

from .attention import (
    AttentionSteps,
    SelfAttention,
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
    softmax,
)
from .heads import MultiHeadAttention, merge_heads, split_heads

__version__ = "0.1.0"

__all__ = [
    "softmax",
    "scaled_dot_product_attention",
    "causal_mask",
    "padding_mask",
    "split_heads",
    "merge_heads",
    "SelfAttention",
    "AttentionSteps",
    "MultiHeadAttention",
]
