"""Statistics of blind ratings: win rate (Wilson 95 %), exact sign test, ties, position bias,
agreement between raters. Computed with statsmodels, scipy and scikit-learn."""

from __future__ import annotations

from collections import Counter
from itertools import combinations

ALPHA = 0.05


def latest(ratings: list[dict]) -> list[dict]:
    """One judgement per (rater, item): a later rating replaces an earlier one."""
    last: dict[tuple[str, str], dict] = {}
    for record in ratings:
        last[(record["rater"], record["item"])] = record
    return list(last.values())


def summarize(ratings: list[dict], systems: tuple[str, str]) -> dict:
    """Every figure of one session (or of pooled sessions comparing the same two systems)."""
    judged = latest(ratings)
    first, second = systems
    counts = Counter(r["winner"] for r in judged)
    wins, losses = counts[first], counts[second]
    lefts = sum(1 for r in judged if r["verdict"] == "A")
    decided = sum(1 for r in judged if r["verdict"] in ("A", "B"))
    return {
        "systems": [first, second],
        "judgements": len(judged),
        "items": len({r["item"] for r in judged}),
        "raters": sorted({r["rater"] for r in judged}),
        "wins": wins,
        "losses": losses,
        "ties": counts["tie"],
        "both_bad": counts["both_bad"],
        "win_rate": proportion(wins, wins + losses),
        "sign_test_p": sign_test(wins, losses),
        "position_bias": {"left_wins": lefts, "decided": decided, **proportion(lefts, decided)},
        "position_p": sign_test(lefts, decided - lefts),
        "agreement": agreement(judged),
    }


def proportion(successes: int, trials: int) -> dict:
    """Share with its Wilson 95 % interval (None when there are no trials)."""
    if trials == 0:
        return {"value": None, "ci_low": None, "ci_high": None, "n": 0}
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(successes, trials, alpha=ALPHA, method="wilson")
    return {"value": successes / trials, "ci_low": float(low), "ci_high": float(high), "n": trials}


def sign_test(wins: int, losses: int) -> float | None:
    """Exact two-sided sign test of wins vs losses (ties and both-bad left out)."""
    if wins + losses == 0:
        return None
    from scipy.stats import binomtest

    return float(binomtest(wins, wins + losses, 0.5, alternative="two-sided").pvalue)


def agreement(judged: list[dict]) -> dict:
    """Cohen's kappa for each pair of raters on their shared items; Fleiss' kappa on the items
    every rater judged (with three raters or more). Labels are winners, so order does not matter."""
    by_rater: dict[str, dict[str, str]] = {}
    for record in judged:
        by_rater.setdefault(record["rater"], {})[record["item"]] = record["winner"]
    pairs = []
    for one, two in combinations(sorted(by_rater), 2):
        shared = sorted(set(by_rater[one]) & set(by_rater[two]))
        if shared:
            left = [by_rater[one][i] for i in shared]
            right = [by_rater[two][i] for i in shared]
            pairs.append(
                {
                    "raters": [one, two],
                    "items": len(shared),
                    "percent_agreement": sum(a == b for a, b in zip(left, right)) / len(shared),
                    "cohen_kappa": _cohen(left, right),
                }
            )
    return {"pairs": pairs, "fleiss_kappa": _fleiss(by_rater) if len(by_rater) >= 3 else None}


def _cohen(left: list[str], right: list[str]) -> float | None:
    from sklearn.metrics import cohen_kappa_score

    if len(set(left) | set(right)) < 2:
        return None  # kappa is undefined when every judgement has the same label
    return float(cohen_kappa_score(left, right))


def _fleiss(by_rater: dict[str, dict[str, str]]) -> dict | None:
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    common = sorted(set.intersection(*(set(v) for v in by_rater.values())))
    if not common:
        return None
    table = [[by_rater[r][item] for r in sorted(by_rater)] for item in common]
    labels = sorted({x for row in table for x in row})
    coded = [[labels.index(x) for x in row] for row in table]
    counts, _ = aggregate_raters(coded)
    if len(labels) < 2:
        return None
    return {"items": len(common), "kappa": float(fleiss_kappa(counts, method="fleiss"))}
