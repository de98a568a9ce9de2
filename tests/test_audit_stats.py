"""The audit's statistics against hand-computed cases and scipy."""

import math
import random

import pytest
from scipy import stats as sp

from layernas.trainer.audit.select import select
from layernas.trainer.audit.summary import TRUSTED_TAU, recommend
from layernas.trainer.stats.rank import bootstrap, kendall, regret, spearman, spread


def test_kendall_by_hand():
    # pairs of (1,2,3,4) against (1,3,2,4): 5 concordant, 1 discordant of 6 -> (5 - 1) / 6
    assert kendall([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)
    assert kendall([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert kendall([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert math.isnan(kendall([1, 1, 1], [1, 2, 3]))  # a constant scoring ranks nothing


def test_spearman_by_hand():
    # ranks (1,2,3,4) vs (2,1,4,3): sum d^2 = 4 -> 1 - 6*4 / (4*15) = 0.6
    assert spearman([1, 2, 3, 4], [2, 1, 4, 3]) == pytest.approx(0.6)
    assert math.isnan(spearman([2, 2, 2], [1, 2, 3]))


@pytest.mark.parametrize("seed", range(5))
def test_tau_and_rho_match_scipy_with_ties(seed):
    rng = random.Random(seed)
    a = [rng.randint(0, 4) for _ in range(12)]  # ties on purpose: tau-b
    b = [x + rng.gauss(0, 2) for x in a]
    assert kendall(a, b) == pytest.approx(sp.kendalltau(a, b).statistic)
    assert spearman(a, b) == pytest.approx(sp.spearmanr(a, b).statistic)


def test_regret_by_hand():
    proxy = [0.1, 0.2, 0.3, 0.4]      # the proxy picks item 0
    truth = [5.0, 4.0, 6.0, 3.0]      # the truth's best is item 3 (3.0)
    assert regret(proxy, truth, 1) == pytest.approx(2.0)   # 5.0 - 3.0
    assert regret(proxy, truth, 3) == pytest.approx(1.0)   # best of items 0-2 is 4.0
    assert regret(proxy, truth, 4) == 0.0
    assert regret(truth, truth, 1) == 0.0


def test_bootstrap_interval_holds_the_estimate_and_narrows_with_agreement():
    proxy = [float(i) for i in range(10)]
    exact = [[i + 0.01, i - 0.01] for i in range(10)]
    low, high = bootstrap(proxy, exact, kendall, n=300, seed=0)
    assert low > 0.9 and high == pytest.approx(1.0)
    rng = random.Random(1)
    noisy = [[i + rng.gauss(0, 4), i + rng.gauss(0, 4)] for i in range(10)]
    nlow, nhigh = bootstrap(proxy, noisy, kendall, n=300, seed=0)
    assert nlow < low and nlow <= kendall(proxy, [sum(v) / 2 for v in noisy]) <= nhigh
    assert bootstrap(proxy, noisy, kendall, n=300, seed=0) == (nlow, nhigh)  # deterministic given the seed


def test_spread_separates_seed_noise_from_architecture_spread():
    values = [[1.0, 1.2], [2.0, 2.2], [3.0, 3.2]]
    out = spread(values)
    assert out["seed_std"] == pytest.approx(math.sqrt(0.02))  # each pair's variance is 0.02
    assert out["arch_std"] == pytest.approx(1.0)
    assert out["ratio"] == pytest.approx(math.sqrt(0.02))


def test_stratified_selection_keeps_best_baselines_and_spreads_the_rest():
    class T:
        def __init__(self, n, baseline=None):
            self.number, self.user_attrs = n, {"baseline": baseline} if baseline else {}

    trials = [T(0), T(1), T(2, "bert"), T(3), T(4), T(5), T(6), T(7), T(8), T(9, "conv")]
    picked = [t.number for t in select(trials, 5)]
    assert picked[0] == 0 and {2, 9} <= set(picked) and len(set(picked)) == 5
    assert [t.number for t in select(trials, 3, "top")] == [0, 1, 2]
    assert len(select(trials, 4, "random", seed=3)) == 4
    assert select(trials, 4, "random", seed=3) == select(trials, 4, "random", seed=3)


def test_recommendation_takes_the_cheapest_trusted_signal():
    good, bad = {"tau": 0.8, "tau_ci": (0.65, 0.9)}, {"tau": 0.5, "tau_ci": (0.2, 0.7)}
    steps = [{"step": 100, **bad}, {"step": 200, **good}, {"step": 300, **good}]
    out = recommend({"params": bad, "synflow": good}, steps, {10.0: good}, 300, 10.0)
    assert out["proxy"] == "zero-cost synflow"
    out = recommend({"params": bad}, steps, {10.0: good}, 300, 10.0)
    assert out["proxy"] == "the proxy's ranking at step 200"
    out = recommend({"params": bad}, [], {10.0: bad}, 300, 10.0)
    assert out["proxy"] is None and "none of the measured proxies is trustworthy" in out["line"]
    assert TRUSTED_TAU == 0.6


def _arch(trial, proxy, values, baseline=None):
    from layernas.trainer.audit.summary import Arch

    return Arch(trial, f"a{trial}", baseline, proxy, budgets={10.0: dict(enumerate(values))})


def test_the_tau_among_searched_networks_against_a_hand_count():
    from layernas.trainer.audit.summary import budget_rows

    # searched: proxy order 0,1,2,3; reference means 2,1,4,3 -> pairs (0,1) and (2,3) discordant, the other
    # four concordant: tau = (4 - 2) / 6. The baselines sit far apart in both orders, which lifts the
    # all-networks tau: it counts the family against the baselines too.
    archs = [_arch(0, 1.0, [2.0, 2.0]), _arch(1, 2.0, [1.0, 1.0]), _arch(2, 3.0, [4.0, 4.0]),
             _arch(3, 4.0, [3.0, 3.0]), _arch(4, 10.0, [10.0, 10.0], "bert"), _arch(5, 11.0, [11.0, 11.0], "conv")]
    row = budget_rows(archs, [10.0], n_boot=200, seed=0)[10.0]
    assert row["family"]["tau"] == pytest.approx(1 / 3) and row["family"]["n"] == 4
    # all six: 15 pairs, the same 2 discordant: (13 - 2) / 15
    assert row["tau"] == pytest.approx(11 / 15)
    assert row["family"]["regret_top1"] == pytest.approx(1.0)  # the proxy's pick (2.0) against the best (1.0)
    few = budget_rows(archs[2:], [10.0], n_boot=50, seed=0)[10.0]
    assert few["family"]["n"] == 2 and few["family"]["tau"] is None


def test_the_proxy_seeds_widen_the_interval_when_they_disagree():
    # the reference orders the five exactly; the proxy's single values too, but its other seeds reverse it
    reference = [[float(i)] * 2 for i in range(5)]
    proxy = [0.0, 1.0, 2.0, 3.0, 4.0]
    fixed = bootstrap(proxy, reference, kendall, n=300, seed=0)
    noisy = bootstrap(proxy, reference, kendall, n=300, seed=0,
                      proxy_seeds=[[p, 4.0 - p] for p in proxy])
    assert fixed == pytest.approx((1.0, 1.0))
    assert noisy[0] < 0 < noisy[1] <= 1.0
