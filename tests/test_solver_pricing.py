"""The compiled pricing pass (solver.pricing) against the NumPy blocks of the problem, arc by arc:
same eligible arcs (class and judge's rules), same costs, same cheapest priced option, same
arcs below the threshold, least reduced cost first."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from solver.pricing import price_pass
from tests.test_solver_methods import _problem

SCALE = 100.0


def _reference(problem, prices, own, threshold, keep):
    """The same pass written with Problem.iter_blocks (the vectorised source of the rules and costs)."""
    best = np.full(problem.n_children, np.inf)
    found: dict[int, list[tuple[float, int, float, float]]] = {}
    for kids, units, minutes, cost, eligible in problem.iter_blocks():
        priced = np.where(eligible, cost + prices[units][None, :], np.inf)
        best[kids] = priced.min(axis=1)
        reduced = np.floor(cost * SCALE) / SCALE + prices[units][None, :] - own[kids][:, None]
        for r, c in zip(*np.nonzero(eligible & (reduced < threshold))):
            found.setdefault(int(kids[r]), []).append((float(reduced[r, c]), int(units[c]), float(cost[r, c]), float(minutes[r, c])))
    arcs = {i: sorted(v)[:keep] for i, v in found.items()} if keep else {}
    return best, arcs


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), scope=st.sampled_from(["waiting", "all"]), n=st.integers(4, 40),
       keep=st.integers(0, 5), threshold=st.sampled_from([-1e-7, 50.0, 500.0]))
def test_the_compiled_pass_agrees_with_the_numpy_blocks(seed, scope, n, keep, threshold):
    problem = _problem(seed, n, 7, scope)
    rng = np.random.default_rng(seed)
    prices = rng.uniform(0, 400, problem.n_units)
    own = rng.uniform(0, 3000, problem.n_children)
    best, arcs, reduced = price_pass(problem, prices, own, threshold, keep, SCALE)
    want_best, want_arcs = _reference(problem, prices, own, threshold, keep)
    assert best == pytest.approx(want_best, rel=0, abs=1e-9)
    got: dict[int, list[tuple[float, int, float, float]]] = {}
    for i, u, c, m, r in zip(arcs.child.tolist(), arcs.unit.tolist(), arcs.cost.tolist(), arcs.minutes.tolist(), reduced.tolist()):
        got.setdefault(i, []).append((r, u, c, m))
    assert sorted(got) == sorted(want_arcs)
    for i, want in want_arcs.items():
        assert [u for _, u, _, _ in got[i]] == [u for _, u, _, _ in want]
        for (r, _, c, m), (wr, _, wc, wm) in zip(got[i], want):
            assert r == pytest.approx(wr, abs=1e-9) and c == pytest.approx(wc, abs=1e-9)
            assert (np.isnan(m) and np.isnan(wm)) or m == pytest.approx(wm)
    # least reduced cost first within each child, children in order
    assert (np.diff(arcs.child) >= 0).all()


def test_judge_rules_and_an_empty_class_reach_the_compiled_pass():
    # a judge's constraint removes arcs: the pass must not offer them (a pass that ignored the
    # judge's mask would list them and find a cheaper best)
    for seed in range(60):
        problem = _problem(seed, 30, 7, "all")
        if problem.judged_children:
            break
    else:
        pytest.skip("no generated child with a judge's constraint")
    judged = np.array(sorted(problem.judged_children))
    prices = np.zeros(problem.n_units)
    own = np.full(problem.n_children, 1e9)
    best, arcs, _ = price_pass(problem, prices, own, 1e12, 10_000, SCALE, children=judged)
    for k, i in enumerate(judged.tolist()):
        eligible = set(problem.arcs_of(i).unit.tolist())
        assert set(arcs.unit[arcs.child == i].tolist()) == eligible
        assert np.isinf(best[k]) == (not eligible)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), scope=st.sampled_from(["waiting", "all"]))
def test_pair_costs_are_the_block_costs(seed, scope):
    # the objective and the starts' arcs are costed pair by pair (Problem.pair_costs): the same
    # values as the blocks the solver prices, school continuity and moves included
    problem = _problem(seed, 25, 7, scope)
    kids = np.arange(problem.n_children)
    units = np.arange(problem.n_units)
    minutes = problem.minutes_block(kids, units)
    block = problem.cost_block(kids, units, minutes)
    rng = np.random.default_rng(seed)
    i = rng.integers(0, problem.n_children, 200)
    u = rng.integers(0, problem.n_units, 200)
    cost, pair_minutes = problem.pair_costs(i, u)
    assert cost == pytest.approx(block[i, u], rel=0, abs=1e-9)
    np.testing.assert_array_equal(pair_minutes, minutes[i, u])


def _jacobi_prices(problem, arcs, assigned, scale=SCALE):
    """The place prices by rounds that update every unit at once (the former NumPy code)."""
    cost = np.floor(arcs.cost * scale) / scale
    unplaced = np.floor(problem.unplaced_cost * scale) / scale
    placed = assigned >= 0
    own = np.zeros(problem.n_children)
    mine = assigned[arcs.child] == arcs.unit
    own[arcs.child[mine]] = cost[mine]
    price = np.zeros(problem.n_units)
    where = np.maximum(assigned, 0)
    for _ in range(10_000):
        base = np.where(placed, own + price[where], unplaced)
        new = price.copy()
        np.maximum.at(new, arcs.unit, base[arcs.child] - cost)
        if np.allclose(new, price, rtol=0.0, atol=1e-9):
            break
        price = new
    return price


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), scope=st.sampled_from(["waiting", "all"]), n=st.integers(4, 40))
def test_compiled_place_prices_are_the_least_fixed_point(seed, scope, n):
    # the compiled label-correcting rounds update in place: they must reach the same smallest
    # prices as rounds that update every unit at once
    from solver.flow import _min_cost_flow, _place_prices

    problem = _problem(seed, n, 6, scope)
    arcs = problem.candidate_arcs(3)
    _, assigned = _min_cost_flow(problem, arcs, problem.capacity, np.ones(problem.n_children, dtype=bool))
    prices, _ = _place_prices(problem, arcs, assigned)
    assert prices == pytest.approx(_jacobi_prices(problem, arcs, assigned), abs=1e-6)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), scope=st.sampled_from(["waiting", "all"]), n=st.integers(4, 40),
       per_child=st.integers(0, 6))
def test_candidate_arcs_are_each_childs_cheapest_eligible_arcs_and_its_current_unit(seed, scope, n, per_child):
    # the flow's first arcs (Problem.candidate_arcs, one compiled pass): against the NumPy blocks
    problem = _problem(seed, n, 7, scope)
    arcs = problem.candidate_arcs(per_child)
    got: dict[int, set[int]] = {}
    for i, u in zip(arcs.child.tolist(), arcs.unit.tolist()):
        got.setdefault(i, set()).add(u)
    for kids, units, minutes, cost, eligible in problem.iter_blocks():
        for r, i in enumerate(kids.tolist()):
            ok = np.flatnonzero(eligible[r])
            floored = np.floor(cost[r, ok] * SCALE) / SCALE
            want = set()
            if per_child and ok.size:
                cut = np.sort(floored)[min(per_child, ok.size) - 1]
                cheapest = set(units[ok[floored < cut]].tolist())
                tied = units[ok[floored == cut]].tolist()
                want = cheapest | set(tied[: per_child - len(cheapest)])
            current = int(problem.child_current_unit[i])
            if current >= 0 and current in set(units[ok].tolist()):
                want.add(current)
            assert got.get(i, set()) == want, i
    # each arc's cost and minutes are the blocks'
    cost, minutes = problem.pair_costs(arcs.child, arcs.unit)
    assert arcs.cost == pytest.approx(cost, rel=0, abs=1e-9)
    np.testing.assert_array_equal(arcs.minutes, minutes)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), scope=st.sampled_from(["waiting", "all"]), keep=st.integers(1, 4))
def test_cheaper_units_are_the_least_costs_below_the_limit_over_every_unit(seed, scope, keep):
    # the explanations' better-looking places (solver.pricing.cheaper_units): every unit, eligible
    # or not, below each child's limit, least cost first, ties in unit order
    from solver.pricing import cheaper_units

    problem = _problem(seed, 25, 7, scope)
    kids = np.arange(problem.n_children)
    units = np.arange(problem.n_units)
    block = problem.cost_block(kids, units, problem.minutes_block(kids, units))
    below = np.random.default_rng(seed).uniform(0, 3000, kids.size)
    got, got_cost = cheaper_units(problem, kids, below, keep)
    for i in kids.tolist():
        want = np.flatnonzero(block[i] < below[i])
        want = want[np.argsort(block[i, want], kind="stable")][:keep]
        shown = got[i] >= 0
        assert got[i][shown].tolist() == want.tolist()
        assert got_cost[i][shown] == pytest.approx(block[i, want], rel=0, abs=1e-9)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000))
def test_eligible_pairs_agree_with_eligible_units(seed):
    # the explanations' eligibility of a better-looking place (judge's rules included)
    problem = _problem(seed, 30, 7, "all")
    kids = np.repeat(np.arange(problem.n_children), problem.n_units)
    units = np.tile(np.arange(problem.n_units), problem.n_children)
    want = np.concatenate([np.isin(np.arange(problem.n_units), problem.eligible_units(i)) for i in range(problem.n_children)])
    np.testing.assert_array_equal(problem.eligible_pairs(kids, units), want)


def _random_arcs(rng, n_children, n_units, size, ordered):
    from solver.problem import Arcs

    child = rng.integers(0, n_children, size).astype(np.int32)
    unit = rng.integers(0, n_units, size).astype(np.int32)
    arcs = Arcs(child, unit, rng.uniform(0, 100, size), rng.uniform(0, 100, size).astype(np.float32))
    return arcs.deduplicated(n_units) if ordered else arcs


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 100_000), ordered=st.booleans(), size=st.integers(0, 60), other=st.integers(0, 60))
def test_merging_arcs_keeps_each_pair_once_first_seen_ordered_by_pair(seed, ordered, size, other):
    # the fast merge (ordered arcs, new pairs inserted) must give what joining and deduplicating gives
    from solver.problem import Arcs

    rng = np.random.default_rng(seed)
    a, b = _random_arcs(rng, 6, 5, size, ordered), _random_arcs(rng, 6, 5, other, False)
    got = a.merged(b, 5)
    want = Arcs.joined([a.columns(), b.columns()]).deduplicated(5)
    for g, w in zip(got.columns(), want.columns()):
        np.testing.assert_array_equal(g, w)
    assert got.child.dtype == np.int32 and got.unit.dtype == np.int32 and got.minutes.dtype == np.float32


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 100_000), ordered=st.booleans(), kept=st.integers(1, 4))
def test_keep_best_keeps_each_childs_least_reduced_arcs_and_the_one_it_holds(seed, ordered, kept):
    # the flow drops arcs between rounds (solver.flow._keep_best, compiled): against a sort
    from solver.flow import SCALE, _keep_best

    rng = np.random.default_rng(seed)
    n_children, n_units = 5, 8
    arcs = _random_arcs(rng, n_children, n_units, 40, ordered)

    class _Sized:
        pass

    problem = _Sized()
    problem.n_children = n_children
    prices = rng.uniform(0, 50, n_units)
    own = rng.uniform(0, 100, n_children)
    assigned = np.full(n_children, -1)
    for i in range(n_children):
        mine = arcs.unit[arcs.child == i]
        if mine.size and rng.random() < 0.7:
            assigned[i] = rng.choice(mine)
    got = _keep_best(problem, arcs, assigned, prices, own, kept)
    reduced = np.floor(arcs.cost * SCALE) / SCALE + prices[arcs.unit] - own[arcs.child]
    want = set()
    if len(arcs) <= kept * n_children:
        want = set(range(len(arcs)))
    else:
        for i in range(n_children):
            mine = np.flatnonzero(arcs.child == i)
            want |= set(mine[np.argsort(reduced[mine], kind="stable")][:kept].tolist())
            want |= set(mine[arcs.unit[mine] == assigned[i]].tolist())
    positions = sorted(want)
    np.testing.assert_array_equal(got.child, arcs.child[positions])
    np.testing.assert_array_equal(got.unit, arcs.unit[positions])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000))
def test_drop_forbidden_removes_exactly_each_childs_forbidden_structures(seed):
    # a judge's separation forbids the structures where the other child lives (solver.lp.drop_forbidden)
    from solver.lp import drop_forbidden

    rng = np.random.default_rng(seed)
    n_children, n_units, n_structures = 6, 9, 4

    class _Problem:
        structure_ids = [f"S{k}" for k in range(n_structures)]
        unit_structure = rng.integers(0, n_structures, n_units)
        forbidden_structures = {int(i): frozenset(rng.choice(n_structures, rng.integers(1, 3), replace=False).tolist())
                                for i in rng.choice(n_children, rng.integers(0, 4), replace=False)}

    arcs = _random_arcs(rng, n_children, n_units, 40, True)
    kept = drop_forbidden(_Problem, arcs)
    want = [k for k in range(len(arcs))
            if int(_Problem.unit_structure[arcs.unit[k]]) not in _Problem.forbidden_structures.get(int(arcs.child[k]), ())]
    np.testing.assert_array_equal(kept.child, arcs.child[want])
    np.testing.assert_array_equal(kept.unit, arcs.unit[want])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), scope=st.sampled_from(["waiting", "all"]))
def test_all_arcs_are_each_childs_arcs_of(seed, scope):
    # the fratrie bound's arcs (solver.pricing.all_arcs, compiled) are Problem.arcs_of's, child by child
    from solver.pricing import all_arcs

    problem = _problem(seed, 30, 7, scope)
    kids = np.random.default_rng(seed).permutation(problem.n_children)[: problem.n_children // 2 + 1]
    arcs, start = all_arcs(problem, kids)
    for k, i in enumerate(kids.tolist()):
        want = problem.arcs_of(i)
        a, b = start[k], start[k + 1]
        assert (arcs.child[a:b] == i).all()
        np.testing.assert_array_equal(arcs.unit[a:b], want.unit)
        assert arcs.cost[a:b] == pytest.approx(want.cost, rel=0, abs=1e-9)
        np.testing.assert_array_equal(arcs.minutes[a:b], want.minutes)
