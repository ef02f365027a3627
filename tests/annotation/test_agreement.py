"""Agreement statistics against textbook values computed by hand (not by the libraries we call)."""

from __future__ import annotations

import pytest

from annotation import agreement

# Fleiss (1971) as reproduced on Wikipedia ("Fleiss' kappa", worked example): 10 subjects, 14 raters,
# 5 categories; P-bar = 0.378, P-bar_e = 0.213, kappa = 0.210.
FLEISS_TABLE = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", section C: 4 observers, 12 units, missing
# values; nominal alpha = 0.743.
KRIPPENDORFF = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
}


def _hand_fleiss(table: list[list[int]]) -> float:
    """The textbook formula, written out: kappa = (P_bar - P_e) / (1 - P_e)."""
    n = sum(table[0])
    total = n * len(table)
    p_j = [sum(row[j] for row in table) / total for j in range(len(table[0]))]
    p_i = [(sum(c * c for c in row) - n) / (n * (n - 1)) for row in table]
    p_bar, p_e = sum(p_i) / len(p_i), sum(p * p for p in p_j)
    return (p_bar - p_e) / (1 - p_e)


def test_fleiss_matches_the_1971_example() -> None:
    rows = [[str(j) for j, count in enumerate(row) for _ in range(count)] for row in FLEISS_TABLE]
    assert _hand_fleiss(FLEISS_TABLE) == pytest.approx(0.2099, abs=1e-4)
    assert agreement.fleiss(rows) == pytest.approx(0.210, abs=5e-4)
    assert agreement.fleiss(rows) == pytest.approx(_hand_fleiss(FLEISS_TABLE), abs=1e-6)


def test_krippendorff_matches_the_example_with_missing_values() -> None:
    units = [{who: str(values[j]) for who, values in KRIPPENDORFF.items() if values[j] is not None} for j in range(12)]
    assert agreement.krippendorff_nominal(units) == pytest.approx(0.743, abs=5e-4)


def test_cohen_matches_the_textbook_two_by_two() -> None:
    # 50 items: yes/yes 20, yes/no 5, no/yes 10, no/no 15 -> p_o = 0.7, p_e = 0.5, kappa = 0.4
    pairs = [("yes", "yes")] * 20 + [("yes", "no")] * 5 + [("no", "yes")] * 10 + [("no", "no")] * 15
    ratings = {f"i{n}": {"a": (x,), "b": (y,)} for n, (x, y) in enumerate(pairs)}
    (pair,) = agreement.cohen_pairs(ratings)
    assert (pair.a, pair.b, pair.n) == ("a", "b", 50)
    assert pair.kappa == pytest.approx(0.4, abs=1e-9)


def test_perfect_agreement_and_undefined_cases() -> None:
    perfect = {"i1": {"a": ("x",), "b": ("x",)}, "i2": {"a": ("y",), "b": ("y",)}}
    result = agreement.compute(perfect, ["x", "y"])
    assert result.fleiss_kappa == pytest.approx(1.0)
    assert result.krippendorff_alpha == pytest.approx(1.0)
    assert result.cohen[0].kappa == pytest.approx(1.0)
    assert result.per_label["x"]["krippendorff_alpha"] == pytest.approx(1.0)
    one_category = {"i1": {"a": ("x",), "b": ("x",)}, "i2": {"a": ("x",), "b": ("x",)}}
    undefined = agreement.compute(one_category, ["x"])
    assert undefined.fleiss_kappa is None and undefined.krippendorff_alpha is None and undefined.cohen[0].kappa is None
    assert agreement.compute({"i1": {"a": ("x",)}}, ["x"]).items_compared == 0


def test_per_label_treats_each_label_as_present_or_absent() -> None:
    ratings = {
        "i1": {"a": ("p", "q"), "b": ("p",)},
        "i2": {"a": ("q",), "b": ("q",)},
        "i3": {"a": ("p",), "b": ("p", "q")},
    }
    result = agreement.compute(ratings, ["p", "q"])
    assert result.per_label["p"]["fleiss_kappa"] == pytest.approx(1.0)  # p: yes,yes / no,no / yes,yes
    assert result.per_label["q"]["fleiss_kappa"] < 0.5


def test_gold_accuracy_per_labeller() -> None:
    answers = {"a": {"g1": ("x",), "g2": ("y",), "n": ("x",)}, "b": {"g1": ("y",)}, "c": {"n": ("x",)}}
    gold = {"g1": ("x",), "g2": ("y",)}
    assert agreement.gold_accuracy(answers, gold) == {
        "a": {"gold_items": 2, "gold_accuracy": 1.0},
        "b": {"gold_items": 1, "gold_accuracy": 0.0},
        "c": {"gold_items": 0, "gold_accuracy": None},
    }
