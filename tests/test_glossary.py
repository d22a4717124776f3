"""The glossary (glossary.md) and the links to it: every term a chapter uses links to its entry.

Each ``## Term`` heading of glossary.md is one term; its anchor is the slug myst-parser makes
(``myst_heading_anchors``), and it must be one of the slugs the chapters link to (SLUGS). The
line "Also: a, b, c" under a heading lists the other spellings that count as the same term.

In every chapter notebook, the FIRST use of each term in the prose must sit inside a Markdown
link ``[text](../glossary.md#slug)``. Prose is the markdown cells without headings, code spans
and ``{eval}`` roles, inline and display math, code blocks, directive fence and option lines,
comments, link targets and bare URLs. Where two terms overlap the longer wins, so "gradient
descent" is a use of gradient descent, not of gradient, and "token type embedding" is neither a
use of token nor of embedding.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from myst_parser.mdit_to_docutils.base import default_slugify

ROOT = Path(__file__).resolve().parent.parent
GLOSSARY = ROOT / "glossary.md"
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))

#: The slugs of the common brief of issue 11, those of the positions chapter (issue 13) and
#: those of the causal self-attention chapter (issue 14), which the chapters link to.
SLUGS = {
    "embedding", "token", "vocabulary", "gradient", "gradient-descent", "backpropagation",
    "jacobian", "loss", "cross-entropy", "mini-batch", "learning-rate", "logits", "mlp",
    "layer-normalisation", "residual-connection", "pooler", "token-type-embedding",
    "weight-tying", "lm-head", "rnn", "positional-encoding", "encoder", "decoder", "flop",
    "parameter", "softmax", "entropy", "gelu", "special-tokens", "wordpiece",
    "rope", "alibi",
    "causal-mask", "kv-cache", "induction-head",
}


# --------------------------------------------------------------------------- #
# reading the glossary
# --------------------------------------------------------------------------- #
def glossary_terms(text: str) -> dict[str, list[str]]:
    """{slug: [spellings]} from ``## Term`` headings and their "Also:" paragraphs."""
    terms: dict[str, list[str]] = {}
    slug = None
    paragraphs = re.split(r"\n\s*\n", text)
    for para in paragraphs:
        para = para.strip()
        heading = re.match(r"^## (.+)$", para, re.M)
        if heading and para.startswith("## "):
            title = heading.group(1).strip()
            slug = default_slugify(title)
            terms[slug] = [title]
        elif para.startswith("Also:") and slug is not None:
            also = " ".join(para[len("Also:"):].split()).rstrip(".")
            terms[slug] += [a.strip() for a in also.split(",") if a.strip()]
    return terms


# --------------------------------------------------------------------------- #
# the prose of a chapter
# --------------------------------------------------------------------------- #
def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + re.sub(r"[^\n]", " ", text[start:end]) + text[end:]


_OPEN = re.compile(r"^(`{3,}|~{3,}|:{3,})[ \t]*(\{[\w-]+\})?")
_CODE_DIRECTIVES = {"{code-block}", "{code}", "{code-cell}", "{sourcecode}"}


def _code_blocks(text: str) -> list[tuple[int, int]]:
    """(start, end) of each code block, fences included. Fences nest: the closing fence of
    an ``{exercise}`` box is not the opening of a code block, so the lines are read with a
    stack of the open fences."""
    spans, stack, pos = [], [], 0  # stack of (fence, is_code, start)
    for line in text.splitlines(keepends=True):
        bare = line.strip()
        if stack and bare == stack[-1][0]:
            fence, is_code, start = stack.pop()
            if is_code:
                spans.append((start, pos + len(line.rstrip("\n"))))
        elif not (stack and stack[-1][1]) and (m := _OPEN.match(line)):
            directive = m.group(2)
            is_code = directive in _CODE_DIRECTIVES or (directive is None and m.group(1)[0] != ":")
            stack.append((m.group(1), is_code, pos))
        pos += len(line)
    return spans


_HIDDEN = [
    r"^(?:`{3,}|:{3,})\{[^\n]*$",                            # directive fence lines
    r"^(?:`{3,}|:{3,}|~{3,})[ \t]*$",                       # closing fences
    r"^:[\w-]+:[^\n]*$",                                    # directive options
    r"^#{1,6} [^\n]*$",                                     # headings
    r"^%[^\n]*$",                                           # MyST comments
    r"^\([\w-]+\)=[ \t]*$",                                 # MyST targets
    r"<!--.*?-->",                                          # HTML comments
    r"\\begin\{(\w+\*?)\}.*?\\end\{\1\}",                   # display math
    r"\$\$.*?\$\$",
    r"(?<!\\)\$[^$\n]+?(?<!\\)\$",                          # inline math
    r"(?:\{[\w:-]+\})?(`+)[^`].*?\1",                       # code spans and roles
    r"!\[[^\]]*\]\([^)]*\)",                                # images
]


def prose_and_links(markdown: str) -> tuple[str, list[tuple[int, int, str]]]:
    """The markdown with everything but prose blanked (positions kept), and the links in it
    as (start, end, target) of their visible text."""
    text = markdown
    for start, end in _code_blocks(text):
        text = _blank(text, start, end)
    for pattern in _HIDDEN:
        for m in list(re.finditer(pattern, text, re.S | re.M)):
            text = _blank(text, m.start(), m.end())
    links = []
    for m in list(re.finditer(r"\[([^\]]*)\]\(([^)\s]*)\)", text)):
        links.append((m.start(1), m.end(1), m.group(2)))
        text = _blank(text, m.end(1), m.end())
    for m in list(re.finditer(r"<?https?://[^\s)>]+>?", text)):
        text = _blank(text, m.start(), m.end())
    return text, links


def _pattern(spelling: str) -> str:
    words = [re.escape(w) for w in re.split(r"[\s]+", spelling.strip())]
    return r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)"


def term_uses(prose: str, terms: dict[str, list[str]]) -> list[tuple[int, int, str]]:
    """Every use of a term, (start, end, slug), the longer one winning where two overlap."""
    found = []
    for slug, spellings in terms.items():
        for spelling in spellings:
            for m in re.finditer(_pattern(spelling), prose, re.I):
                found.append((m.start(), m.end(), slug))
    found.sort(key=lambda f: (f[0], -(f[1] - f[0])))
    kept, reach = [], -1
    for start, end, slug in found:
        if start >= reach:
            kept.append((start, end, slug))
            reach = end
    return kept


def _sentence(markdown: str, start: int, end: int) -> str:
    left = max(markdown.rfind(". ", 0, start), markdown.rfind("\n\n", 0, start))
    right = min((i for i in (markdown.find(". ", end), markdown.find("\n\n", end)) if i >= 0),
                default=len(markdown))
    return " ".join(markdown[left + 1:right + 1].split())[:300]


def unlinked_first_uses(markdown: str, terms: dict[str, list[str]],
                        prefix: str = "../glossary.md#") -> list[tuple[str, str, str]]:
    """(slug, the words used, sentence) for each term whose first use is not linked to it."""
    prose, links = prose_and_links(markdown)
    seen: set[str] = set()
    problems = []
    for start, end, slug in term_uses(prose, terms):
        if slug in seen:
            continue
        seen.add(slug)
        # Inside the link, or spelled out just before its linked abbreviation:
        # "a recurrent neural network ([RNN](../glossary.md#rnn))".
        linked = any(target == prefix + slug and (a <= start and end <= b
                                                  or 0 <= a - end <= len(" (["))
                     for a, b, target in links)
        if not linked:
            problems.append((slug, markdown[start:end], _sentence(markdown, start, end)))
    return problems


def chapter_markdown(path: Path) -> str:
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = [c["source"] for c in nb["cells"] if c["cell_type"] == "markdown"]
    return "\n\n".join("".join(s) if isinstance(s, list) else s for s in cells)


TERMS = glossary_terms(GLOSSARY.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- #
# the glossary itself
# --------------------------------------------------------------------------- #
def test_every_heading_is_a_listed_term_and_every_listed_term_has_a_heading():
    assert set(TERMS) - SLUGS == set(), f"headings whose slug is not a listed term: {set(TERMS) - SLUGS}"
    assert SLUGS - set(TERMS) == set(), f"listed terms without a heading: {SLUGS - set(TERMS)}"


def test_headings_are_in_alphabetical_order():
    titles = [spellings[0] for spellings in TERMS.values()]
    assert titles == sorted(titles, key=str.lower)


def test_glossary_uses_plain_myst_only():
    text = GLOSSARY.read_text(encoding="utf-8")
    assert not re.search(r"^(```|:::)\{", text, re.M), "a Sphinx directive JupyterLab cannot render"
    assert "{ref}" not in text and "{cite" not in text


# --------------------------------------------------------------------------- #
# the checker, on hand-made prose
# --------------------------------------------------------------------------- #
SMALL = {"gradient": ["Gradient", "gradients"], "gradient-descent": ["Gradient descent"],
         "token": ["Token", "tokens"], "embedding": ["Embedding", "embeddings"],
         "token-type-embedding": ["Token type embedding", "token types"]}


def _slugs(md):
    return [p[0] for p in unlinked_first_uses(md, SMALL)]


def test_checker_passes_linked_first_uses():
    md = ("Each [token](../glossary.md#token) has an [embedding](../glossary.md#embedding).\n\n"
          "Later tokens and embeddings need no link.")
    assert _slugs(md) == []


def test_checker_fails_an_unlinked_first_use_even_if_a_later_one_is_linked():
    md = "Gradients flow back.\n\nThe [gradient](../glossary.md#gradient) is a matrix."
    problems = unlinked_first_uses(md, SMALL)
    assert [(p[0], p[1]) for p in problems] == [("gradient", "Gradients")]
    assert "Gradients flow back." in problems[0][2]


def test_checker_fails_a_link_to_the_wrong_entry():
    assert _slugs("A [token](../glossary.md#embedding).") == ["token"]
    assert _slugs("A [token](glossary.md#token).") == ["token"]


def test_checker_ignores_code_math_headings_and_urls():
    md = ("# Tokens and gradients\n\n"
          "Run `embedding = tokens @ W` and {eval}`f'{gradient:.2f}'`; $\\text{token}$,\n"
          "\\begin{equation*} \\text{gradients} \\end{equation*} and "
          "[a paper](https://example.org/token/embedding).\n\n"
          "```python\ntoken = 1\n```\n")
    assert _slugs(md) == []
    assert _slugs(md + "\n\nNow a token.") == ["token"]


def test_checker_reads_the_prose_between_boxes_closed_with_backticks():
    box = "```{exercise} E\n:label: e\n\nAn exercise.\n```\n\n"
    assert _slugs(box + "Between the boxes, a token.\n\n" + box) == ["token"]
    assert _slugs("````{solution} e\n```python\ntoken = 1\n```\nA token.\n````\n") == ["token"]
    assert _slugs("```{code-block} python\ntoken = 1\n```\n") == []


def test_checker_lets_the_longer_term_win():
    md = ("[Gradient descent](../glossary.md#gradient-descent) steps downhill. "
          "BERT's [token types](../glossary.md#token-type-embedding) say which text.")
    assert _slugs(md) == []
    assert _slugs(md + "\n\nThe gradient is a matrix.") == ["gradient"]
    assert _slugs("Gradient descent again.") == ["gradient-descent"]


def test_checker_accepts_a_term_spelled_out_before_its_linked_abbreviation():
    terms = {"rnn": ["RNN", "recurrent neural network"]}
    md = "A recurrent neural network ([RNN](../glossary.md#rnn)) reads in order."
    assert unlinked_first_uses(md, terms) == []
    far = "A recurrent neural network reads in order, unlike an [RNN](../glossary.md#rnn)."
    assert [p[0] for p in unlinked_first_uses(far, terms)] == ["rnn"]


def test_checker_reads_also_lines_and_wrapped_also_lines():
    text = ("## Token\n\nA unit.\n\nAlso: tokens.\n\n## Layer normalisation\n\nRescales.\n\n"
            "Also: layer norm,\nLayerNorm.\n")
    assert glossary_terms(text) == {"token": ["Token", "tokens"],
                                    "layer-normalisation": ["Layer normalisation", "layer norm",
                                                            "LayerNorm"]}


# --------------------------------------------------------------------------- #
# the chapters
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_first_use_of_every_term_links_to_the_glossary(path):
    problems = unlinked_first_uses(chapter_markdown(path), TERMS)
    assert not problems, (f"{path.name}: first use of a glossary term without a link "
                          "[text](../glossary.md#slug):\n"
                          + "\n".join(f"  {slug} ({used!r}): {sentence}"
                                      for slug, used, sentence in problems))


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_glossary_link_names_an_entry(path):
    targets = re.findall(r"\]\((?:\.\./)?glossary\.md#([\w-]+)\)", chapter_markdown(path))
    unknown = sorted(set(targets) - set(TERMS))
    assert not unknown, f"{path.name}: links to glossary entries that do not exist: {unknown}"
