"""Tests of selfattn.models: the checked model table and its comparison with the article.

Expected values are typed in from the sources cited in the table or written by hand in the
test; the parameter counts of the rows are checked against PyTorch modules in test_sizing.py.
"""

from __future__ import annotations

import csv

import pytest

from selfattn.models import COLUMNS, INT_COLUMNS, MODELS_CSV, compare_with_article, load_models


# --------------------------------------------------------------------------- #
# the shipped table
# --------------------------------------------------------------------------- #
def test_columns_document_exactly_the_header_of_the_shipped_table():
    with open(MODELS_CSV, newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    assert list(COLUMNS) == header
    assert set(INT_COLUMNS) <= set(header)


def test_whole_number_columns_are_read_as_int_or_none():
    rows = load_models()
    bad = [(r["model"], c, r[c]) for r in rows for c in INT_COLUMNS
           if not (r[c] is None or type(r[c]) is int)]
    assert not bad
    by = {r["model"]: r for r in rows}
    # typed in from the released configurations: GPT-2 small n_embd 768, n_head 12; BERT base hidden 768
    assert (by["GPT-2 Small"]["d_model"], by["GPT-2 Small"]["n_heads"]) == (768, 12)
    assert by["BERT Base"]["vocab_size"] == 30522
    assert by["GPT-4"]["d_model"] is None  # not published


def test_every_row_of_the_model_table_has_a_source_and_notes():
    rows = load_models()
    missing = [r["model"] for r in rows if not r["source"].strip() or not r["notes"].strip()]
    assert not missing, f"rows without a source or notes: {missing}"


def test_every_source_of_the_model_table_is_in_references_bib(root):
    bib = (root / "references.bib").read_text()
    keys = {k for r in load_models() for k in r["source"].split(";")}
    missing = sorted(k for k in keys if "{" + k + "," not in bib)
    assert not missing, f"cite keys missing from references.bib: {missing}"


def test_model_table_covers_every_model_of_the_article(root):
    text = (root.parent / "shared" / "source-article.txt")
    if not text.exists():
        pytest.skip("source article not available")
    lines = text.read_text().split("List of Popular Self-Attention Models")[1].split("Observations")[0]
    article = [ln.split("|")[0].strip() for ln in lines.splitlines() if ln.count("|") >= 4][1:]
    covered = {r["article_model"] for r in load_models()}
    assert article and not [m for m in article if m not in covered]


def test_head_dim_times_heads_equals_d_model_except_where_the_notes_explain():
    for r in load_models():
        if r["d_model"] and r["n_heads"] and r["head_dim"] and r["head_dim"] * r["n_heads"] != r["d_model"]:
            assert r["model"] == "MobileBERT" and "bottleneck" in r["notes"], r["model"]


# --------------------------------------------------------------------------- #
# load_models
# --------------------------------------------------------------------------- #
def test_load_models_reads_empty_cells_as_none_and_rejects_text_in_numbers(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("model,d_model,n_heads\nA,768,\n")
    assert load_models(good) == [{"model": "A", "d_model": 768, "n_heads": None}]
    bad = tmp_path / "bad.csv"
    with open(bad, "w", newline="") as fh:
        csv.writer(fh).writerows([["model", "d_model"], ["B", "~768"]])
    with pytest.raises(ValueError, match=r"bad.csv line 2: column d_model .* got '~768'"):
        load_models(bad)


# --------------------------------------------------------------------------- #
# compare_with_article
# --------------------------------------------------------------------------- #
def test_compare_with_article_finds_the_known_errors_of_the_article():
    found = {(f["model"], f["what"]) for f in compare_with_article()}
    assert ("GPT-2 Small", "parameters") in found
    assert ("MobileBERT", "head size") in found
    assert ("Longformer", "merged row") in found
    assert ("GPT-4", "unknown") in found
    # GPT-3's head size of 128 is right: it must not be reported
    assert ("GPT-3 (175B)", "head size") not in found


def _row(**changes):
    row = {"model": "M", "article_model": "M", "architecture": "gpt2", "head_dim": 64,
           "params_reported": 100, "params_actual": 100, "article_d_model": "768", "article_n_heads": "12",
           "article_head_dim": "64", "article_notes": "100 parameters", "notes": "checked"}
    row.update(changes)
    return row


@pytest.mark.parametrize("actual, reported", [(101, False), (102, True), (98, True), (99, False)])
def test_a_parameter_count_is_reported_only_when_it_is_more_than_one_percent_off(actual, reported):
    # by hand: |actual - 100| > 1 (1% of the reported 100) for 102 and 98, not for 101 and 99
    found = compare_with_article([_row(params_actual=actual)])
    assert [f["what"] for f in found] == (["parameters"] if reported else [])


def test_a_head_size_is_reported_when_the_article_prints_another_number():
    found = compare_with_article([_row(article_head_dim="128", head_dim=32)])
    assert [(f["what"], f["article"], f["checked"]) for f in found] == [("head size", "128", "32")]
    assert compare_with_article([_row(article_head_dim="?")]) == []  # nothing printed, nothing to compare


def test_rows_that_are_not_in_the_article_are_never_merged():
    found = compare_with_article([_row(model="A", article_model=""), _row(model="B", article_model="")])
    assert found == []
    # the shipped table holds three such rows: the Transformers of Vaswani et al. (2017) and
    # the pretrained model the course runs in NumPy (selfattn.pretrained)
    outside = [r["model"] for r in load_models() if not r["article_model"]]
    assert outside == ["Transformer Base", "Transformer Big", "all-MiniLM-L6-v2"]
    assert not [f for f in compare_with_article() if not f["model"] or f["model"] in outside]


def test_rows_sharing_one_article_row_are_reported_once_as_merged():
    found = compare_with_article([_row(model="A", article_model="AB"), _row(model="B", article_model="AB")])
    assert [(f["model"], f["what"], f["checked"]) for f in found] == [("AB", "merged row", "A, B")]


@pytest.mark.parametrize("rows, words", [
    ("models.csv", ["rows must be a list of dicts", "str"]),
    ([["GPT-2", 768]], ["item 0 is a list"]),
    ([{"model": "A"}], ["row 0 ('A')", "article_model"]),
])
def test_compare_with_article_rejects_rows_that_are_not_table_rows(rows, words):
    with pytest.raises(ValueError) as err:
        compare_with_article(rows)
    for w in words:
        assert w in str(err.value), f"{w!r} missing from: {err.value}"


@pytest.mark.parametrize("path, words", [
    (1, "path must be a file path (str or pathlib.Path), got 1 (int)"),
    (True, "path must be a file path (str or pathlib.Path), got True (bool)"),
    ("/nonexistent/models.csv", "path '/nonexistent/models.csv' is not a file (no such file)"),
    ("", "path must be a file path (str or pathlib.Path), got ''"),
])
def test_load_models_names_a_path_that_is_not_a_file(path, words):
    with pytest.raises(ValueError) as err:
        load_models(path)
    assert words in str(err.value)


def test_load_models_names_a_folder_and_a_file_that_is_not_text(tmp_path):
    with pytest.raises(ValueError, match=r"is not a file \(it is a folder\)"):
        load_models(tmp_path)
    binary = tmp_path / "weights.bin"
    binary.write_bytes(bytes(range(256)))
    with pytest.raises(ValueError, match=r"^path '.*weights.bin' is not a UTF-8 text file"):
        load_models(binary)


@pytest.mark.parametrize("change, words", [
    ({"params_reported": "lots"}, "column params_reported must be a whole number or None, got 'lots'"),
    ({"head_dim": 64.5}, "column head_dim must be a whole number or None, got 64.5"),
    ({"article_notes": None}, "column article_notes must be text (str), got None"),
    ({"model": 3}, "column model must be text (str), got 3"),
])
def test_compare_with_article_names_a_cell_of_the_wrong_type(change, words):
    row = load_models()[0] | change
    with pytest.raises(ValueError) as err:
        compare_with_article([row])
    assert "rows[0]" in str(err.value) and words in str(err.value), str(err.value)
