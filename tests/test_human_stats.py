"""Human-evaluation statistics equal their reference formulas on fixed inputs."""

from __future__ import annotations

import math

import pytest

from tunesmith.human.stats import agreement, latest, proportion, sign_test, summarize

Z = 1.959963984540054  # the 97.5 % normal quantile


def wilson(k: int, n: int) -> tuple[float, float]:
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return centre - half, centre + half


def exact_sign_p(wins: int, losses: int) -> float:
    n, k = wins + losses, min(wins, losses)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


@pytest.mark.parametrize(("k", "n"), [(14, 20), (0, 7), (9, 9), (33, 61)])
def test_wilson_interval_matches_formula(k, n):
    got = proportion(k, n)
    low, high = wilson(k, n)
    assert got["value"] == pytest.approx(k / n)
    assert got["ci_low"] == pytest.approx(max(0.0, low), abs=1e-12)
    assert got["ci_high"] == pytest.approx(min(1.0, high), abs=1e-12)
    assert proportion(0, 0)["value"] is None


@pytest.mark.parametrize(("wins", "losses"), [(14, 6), (10, 10), (1, 12), (7, 0)])
def test_sign_test_is_exact_binomial(wins, losses):
    assert sign_test(wins, losses) == pytest.approx(exact_sign_p(wins, losses))
    assert sign_test(0, 0) is None


def rating(rater, item, verdict, order=("tuned", "base")):
    winner = {"A": order[0], "B": order[1]}.get(verdict, verdict)
    return {"rater": rater, "item": item, "verdict": verdict, "winner": winner, "order": order}


def test_summary_counts_ties_position_bias_and_latest_rating_wins():
    flipped = ("base", "tuned")
    ratings = [
        rating("ann", "1", "A"),  # tuned on the left wins
        rating("ann", "2", "A", flipped),  # base on the left wins
        rating("ann", "3", "B", flipped),  # tuned on the right wins
        rating("ann", "4", "tie"),
        rating("ann", "5", "both_bad"),
        rating("ann", "6", "B"),  # replaced below
        rating("ann", "6", "A"),
    ]
    got = summarize(ratings, ("tuned", "base"))
    assert (got["wins"], got["losses"], got["ties"], got["both_bad"]) == (3, 1, 1, 1)
    assert got["judgements"] == 6 and len(latest(ratings)) == 6
    assert got["win_rate"]["value"] == pytest.approx(0.75)
    assert got["win_rate"]["n"] == 4
    assert got["sign_test_p"] == pytest.approx(exact_sign_p(3, 1))
    # left won on items 1, 2 and 6 of the four decided ones
    assert got["position_bias"]["value"] == pytest.approx(0.75)
    assert got["position_bias"]["decided"] == 4


def test_cohen_kappa_matches_hand_computation():
    a = ["tuned", "tuned", "base", "tie", "tuned", "base"]
    b = ["tuned", "base", "base", "tie", "tuned", "tuned"]
    judged = [
        {"rater": rater, "item": str(i), "verdict": "A", "winner": winner}
        for rater, winners in (("ann", a), ("bob", b))
        for i, winner in enumerate(winners)
    ]
    observed = sum(x == y for x, y in zip(a, b)) / len(a)
    labels = set(a) | set(b)
    expected = sum((a.count(label) / len(a)) * (b.count(label) / len(b)) for label in labels)
    pair = agreement(judged)["pairs"][0]
    assert pair["percent_agreement"] == pytest.approx(observed)
    assert pair["cohen_kappa"] == pytest.approx((observed - expected) / (1 - expected))
    assert agreement(judged)["fleiss_kappa"] is None  # two raters: Cohen's only


def test_fleiss_kappa_matches_hand_computation():
    table = {  # item -> the three raters' winners
        "1": ["tuned", "tuned", "tuned"],
        "2": ["tuned", "base", "tuned"],
        "3": ["base", "base", "tie"],
        "4": ["tie", "tie", "tie"],
    }
    judged = [
        {"rater": r, "item": item, "verdict": "A", "winner": w}
        for item, winners in table.items()
        for r, w in zip(("ann", "bob", "cy"), winners)
    ]
    raters, items = 3, len(table)
    labels = sorted({w for ws in table.values() for w in ws})
    counts = [[ws.count(label) for label in labels] for ws in table.values()]
    p_items = [(sum(c * c for c in row) - raters) / (raters * (raters - 1)) for row in counts]
    shares = [sum(row[j] for row in counts) / (items * raters) for j in range(len(labels))]
    p_bar, p_e = sum(p_items) / items, sum(s * s for s in shares)
    got = agreement(judged)["fleiss_kappa"]
    assert got["items"] == 4
    assert got["kappa"] == pytest.approx((p_bar - p_e) / (1 - p_e))
