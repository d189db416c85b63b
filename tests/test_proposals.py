"""Ranked proposals and "why not" (matcher.proposals), on tiny named systems."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher import DomainError, JudgeConstraints, Sex, SiblingGroup, StructureType, Weights, is_eligible
from matcher.errors import HardRuleViolation
from matcher.model import CurrentPlacement, Home, UnitSex
from matcher.proposals import ChildPlacement, proposal_violations, propose, why_not
from matcher.rules import Option
from matcher.travel import TravelMatrix
from tests.factories import ON, PARIS_18, SAINT_DENIS, child, structure, system, unit

W = Weights.default()


def matrix(sys, minutes: dict[tuple[str, str], float]) -> TravelMatrix:
    """A travel matrix with the given minutes (home, structure); NaN elsewhere."""
    homes = tuple(h.id for h in sys.origins)
    sids = tuple(s.id for s in sys.structures)
    m = np.full((len(homes), len(sids)), np.nan, dtype=np.float32)
    for (h, s), v in minutes.items():
        m[homes.index(h), sids.index(s)] = v
    return TravelMatrix.from_homes(homes, sids, m)


def three_structures(**child_kwargs):
    sys = system(
        [child("C-1", 8, **child_kwargs)],
        [structure("S-near"), structure("S-mid"), structure("S-far", location=SAINT_DENIS)],
        [unit("U-near", "S-near", capacity=1), unit("U-mid", "S-mid", capacity=2),
         unit("U-far", "S-far", capacity=5), unit("U-teen", "S-near", (12, 15))],
    )
    return sys, matrix(sys, {("H-1", "S-near"): 10, ("H-1", "S-mid"): 25, ("H-1", "S-far"): 40})


def test_proposals_for_one_child_rank_by_score_and_skip_ineligible_units():
    sys, travel = three_structures()
    props = propose(sys, ["C-1"], travel, W)
    assert [p.placements[0].unit_id for p in props] == ["U-near", "U-mid", "U-far"]
    assert [p.own_rank for p in props] == [1, 2, 3]
    first = props[0]
    assert first.placements[0].travel_minutes == 10
    assert {c.name for c in first.components} >= {"transit_time", "outside_paris", "daily_price", "stability"}
    assert first.own_score == pytest.approx(10 + 200 * W.daily_price_eur)
    # S-far is in Saint-Denis: outside Paris costs weights.outside_paris
    assert props[2].own_score == pytest.approx(40 + W.outside_paris + 200 * W.daily_price_eur)


def test_proposals_count_held_places_as_taken():
    sys, travel = three_structures()
    props = propose(sys, ["C-1"], travel, W, held={"U-near": 1})
    assert [p.placements[0].unit_id for p in props] == ["U-mid", "U-far"]


def test_proposals_return_top_k():
    sys, travel = three_structures()
    assert len(propose(sys, ["C-1"], travel, W, k=2)) == 2
    with pytest.raises(DomainError, match="k must be at least 1"):
        propose(sys, ["C-1"], travel, W, k=0)


def test_proposals_name_unknown_and_repeated_children():
    sys, travel = three_structures()
    with pytest.raises(DomainError, match="unknown child.*C-404"):
        propose(sys, ["C-404"], travel, W)
    with pytest.raises(DomainError, match="listed twice"):
        propose(sys, ["C-1", "C-1"], travel, W)


def fratrie(together: bool = True, separated: bool = False, order_on: str = "C-a"):
    """Two siblings; ``separated``: a judge's separation order, recorded on ``order_on``'s side."""
    home = Home("H-F", PARIS_18)
    judge_a = JudgeConstraints(separated_from=frozenset({"C-b"})) if separated and order_on == "C-a" else None
    judge_b = JudgeConstraints(separated_from=frozenset({"C-a"})) if separated and order_on == "C-b" else None
    kids = [child("C-a", 5, home=home, sibling_group_id="F-1", judge=judge_a),
            child("C-b", 13, Sex.FEMALE, home=home, sibling_group_id="F-1", judge=judge_b)]
    structures = [structure("S-both"), structure("S-small"), structure("S-teen")]
    units = [
        unit("U-both-4", "S-both", (4, 11), capacity=3),
        unit("U-both-12", "S-both", (12, 15), UnitSex.GIRLS, capacity=1),
        unit("U-small", "S-small", (4, 15), capacity=1),
        unit("U-teen", "S-teen", (12, 15), capacity=2),
    ]
    sys = system(kids, structures, units, [SiblingGroup("F-1", ("C-a", "C-b"), together)])
    travel = matrix(sys, {("H-F", "S-both"): 50, ("H-F", "S-small"): 5, ("H-F", "S-teen"): 8})
    return sys, travel


def test_siblings_together_options_come_first_even_when_a_split_is_closer():
    sys, travel = fratrie()
    props = propose(sys, ["C-a", "C-b"], travel, W)
    first = props[0]
    assert first.siblings_together and first.structure_id == "S-both"
    assert {p.child_id: p.unit_id for p in first.placements} == {"C-a": "U-both-4", "C-b": "U-both-12"}
    assert all(not p.siblings_together for p in props[1:])
    split = props[1]
    assert {c.name: c.cost for c in split.components}["siblings_split"] == W.siblings_split


def test_siblings_together_needs_enough_free_places_in_one_structure():
    sys, travel = fratrie()
    props = propose(sys, ["C-a", "C-b"], travel, W, held={"U-both-12": 1})
    # U-both-12 is held: no structure takes both, so every proposal is a split that places both
    assert [{x.child_id: x.unit_id for x in p.placements} for p in props] == [
        {"C-a": "U-small", "C-b": "U-teen"}, {"C-a": "U-both-4", "C-b": "U-small"}]
    assert not any(p.siblings_together for p in props)


@pytest.mark.parametrize("asked", [["C-a", "C-b"], ["C-b", "C-a"]])
def test_judge_separation_never_puts_the_siblings_in_one_structure(asked):
    """Whichever sibling the order is recorded on, the same options, none in one structure (the
    split search compared a sibling with the ids of the order: when only the later sibling
    carried it, the split that keeps the first sibling in S-both and puts the other elsewhere
    was lost)."""
    found = []
    for order_on in ("C-a", "C-b"):
        sys, travel = fratrie(separated=True, order_on=order_on)
        props = propose(sys, asked, travel, W)
        assert props and all(len({p.structure_id for p in prop.placements}) == 2 for prop in props)
        found.append(sorted(tuple(sorted((x.child_id, x.structure_id) for x in p.placements)) for p in props))
    assert found[0] == found[1]
    first = asked[0]
    assert any((first, "S-both") in option for option in found[0])


def test_system_ordering_adds_capacity_prices_and_explains_the_difference():
    sys, travel = three_structures()
    prices = {"U-near": 100.0}
    own = propose(sys, ["C-1"], travel, W, unit_prices=prices)
    assert own[0].placements[0].unit_id == "U-near" and own[0].system_rank == 3
    assert "Ranked lower system-wide (#1 on its own, #3 system-wide)" in own[0].explanation
    assert "taking the place in the 4-11 unit U-near at mecs S-near (S-near) would add about 100 min in all to " \
        "the trips of the other children waiting" in own[0].explanation
    assert "min-equivalent" not in own[0].explanation
    by_system = propose(sys, ["C-1"], travel, W, unit_prices=prices, order="system")
    assert [p.placements[0].unit_id for p in by_system] == ["U-mid", "U-far", "U-near"]
    assert by_system[0].explanation.startswith("Ranked higher system-wide (#2 on its own, #1 system-wide)")
    # the extra travel for this child, and what the place it leaves free is worth to whom
    assert "for C-1 it means 15 min more travel than mecs S-near (S-near), first on its own" in by_system[0].explanation
    assert "it leaves free a place in the 4-11 unit U-near at mecs S-near (S-near), which would spare the other " \
        "children waiting about 100 min of travel in all; 0 other children waiting" in by_system[0].explanation
    assert propose(sys, ["C-1"], travel, W)[0].explanation is None


def test_explanation_counts_the_other_children_waiting_nearby():
    home2 = Home("H-2", PARIS_18)
    sys = system(
        [child("C-1", 8), child("C-2", 9, home=home2), child("C-3", 10, home=home2), child("C-old", 17, home=home2)],
        [structure("S-near"), structure("S-mid")],
        [unit("U-near", "S-near", capacity=1), unit("U-mid", "S-mid", capacity=2), unit("U-old", "S-mid", (16, 17))],
    )
    travel = matrix(sys, {("H-1", "S-near"): 10, ("H-1", "S-mid"): 25, ("H-2", "S-near"): 30, ("H-2", "S-mid"): 60})
    props = propose(sys, ["C-1"], travel, W, unit_prices={"U-near": 50.0})
    assert "2 other children waiting of that age and sex live within 45 min" in props[0].explanation


def test_competitors_memo_counts_the_same_for_each_child_asking():
    """The waiting children near a unit are memoised per index; each asker is still left out of
    its own count, and a second ask (memo hit) gives the same answer as the first."""
    from matcher.proposals import SystemIndex

    home2 = Home("H-2", PARIS_18)
    sys = system(
        [child("C-1", 8), child("C-2", 9, home=home2), child("C-3", 10, home=home2), child("C-old", 17, home=home2)],
        [structure("S-near")],
        [unit("U-near", "S-near", capacity=1)],
    )
    travel = matrix(sys, {("H-1", "S-near"): 10, ("H-2", "S-near"): 30})
    index = SystemIndex.build(sys, travel)
    j = index.unit_position["U-near"]
    for _ in range(2):
        assert index.competitors(j, frozenset()) == 3  # C-old (17) is outside the 4-11 unit
        assert index.competitors(j, frozenset({"C-1"})) == 2
        assert index.competitors(j, frozenset({"C-2", "C-3"})) == 1
        assert index.competitors(j, frozenset(), within=20) == 1  # only C-1 lives within 20 min


def test_why_not_names_the_rule_that_excludes():
    sys, travel = three_structures(judge=JudgeConstraints(excluded_structures=frozenset({"S-mid"})))
    answer = why_not(sys, ["C-1"], "S-mid", travel, W)
    assert answer.verdict == "excluded"
    assert answer.sentence == "mecs S-mid (S-mid) is excluded for C-1: unit U-mid: the judge excluded this structure."
    assert answer.checks[0].exclusions[0].rule == "judge_excluded_structure"  # the machine field stays


def test_why_not_says_full_with_the_counts():
    sys, travel = three_structures()
    answer = why_not(sys, ["C-1"], "S-near", travel, W, held={"U-near": 1})
    assert answer.verdict == "full"
    assert "U-near 1/1" in answer.sentence
    assert any(e.rule == "free_place" for c in answer.checks for e in c.exclusions)


def test_why_not_lists_the_better_options_ahead():
    sys, travel = three_structures()
    answer = why_not(sys, ["C-1"], "S-far", travel, W)
    assert answer.verdict == "ranked_lower" and answer.rank == 3
    assert [p.structure_id for p in answer.ahead] == ["S-near", "S-mid"]
    assert "ranks #3" in answer.sentence and "the best mecs S-near (S-near)" in answer.sentence
    assert "mostly the journey: +30 min from the family home" in answer.sentence
    assert why_not(sys, ["C-1"], "S-near", travel, W).verdict == "best"


def test_why_not_for_separated_siblings_and_unknown_structure():
    sys, travel = fratrie(separated=True)
    answer = why_not(sys, ["C-a", "C-b"], "S-both", travel, W)
    assert answer.verdict == "separated" and "C-a and C-b placed apart" in answer.sentence
    with pytest.raises(DomainError, match="unknown structure 'S-x'"):
        why_not(sys, ["C-a"], "S-x", travel, W)


@settings(max_examples=40, deadline=None)
@given(
    ages=st.lists(st.integers(0, 17), min_size=1, max_size=3),
    caps=st.lists(st.tuples(st.integers(0, 15), st.integers(0, 6), st.integers(0, 2)), min_size=1, max_size=5),
    held=st.lists(st.integers(0, 2), min_size=5, max_size=5),
)
def test_every_proposal_is_eligible_and_fits_the_free_places(ages, caps, held):
    home = Home("H-P", PARIS_18)
    ids = [f"C-{i}" for i in range(len(ages))]
    groups = [SiblingGroup("F-P", tuple(ids))] if len(ids) > 1 else []
    kids = [child(cid, a, home=home, sibling_group_id="F-P" if groups else None) for cid, a in zip(ids, ages)]
    structures = [structure(f"S-{i}") for i in range(3)]
    units = [unit(f"U-{j}", f"S-{j % 3}", (lo, min(lo + 5, 17)), capacity=c, occupied=min(o, c))
             for j, (lo, c, o) in enumerate(caps)]
    sys = system(kids, structures, units, groups)
    travel = matrix(sys, {("H-P", f"S-{i}"): 10.0 * (i + 1) for i in range(3)})
    holds = {u.id: min(h, u.free) for u, h in zip(units, held)}
    for prop in propose(sys, ids, travel, W, k=50, held=holds):
        used: dict[str, int] = {}
        for p in prop.placements:
            if p.unit_id is None:
                continue
            u = sys.unit_by_id[p.unit_id]
            assert is_eligible(sys.child_by_id[p.child_id], Option(sys.structure_by_id[u.structure_id], u, p.travel_minutes), ON)
            used[u.id] = used.get(u.id, 0) + 1
        for uid, n in used.items():
            u = sys.unit_by_id[uid]
            assert n <= u.free - holds[uid]


def _reference_single(sys, travel, child_id, k, prices, order):
    """The general path (every candidate built as a Proposal, then sorted), for comparison."""
    from matcher.proposals import _all_proposals, _own_key, _system_key

    children = (sys.child_by_id[child_id],)
    found, _, _, _ = _all_proposals(sys, children, travel, W, prices or {}, {}, None)
    by_own = sorted(found, key=lambda p: _own_key(p, False))
    by_system = sorted(found, key=lambda p: _system_key(p, False))
    own = {p.key: r for r, p in enumerate(by_own, 1)}
    syst = {p.key: r for r, p in enumerate(by_system, 1)}
    return [(p.key, p.own_score, p.capacity_price, own[p.key], syst[p.key])
            for p in (by_own if order == "own" else by_system)[:k]]


@pytest.mark.parametrize("order", ["own", "system"])
def test_single_child_fast_path_ranks_like_the_general_path(order):
    from data.generator import generate
    from tests.api_support import CrowFlyTravel

    sys = generate(scale=0.05, seed=3)
    travel = CrowFlyTravel().matrix(sys.origins, sys.structures)
    prices = {u.id: float((7 * i) % 23) for i, u in enumerate(sys.units)}
    checked = 0
    for c in [c for c in sys.children if c.is_waiting][:25]:
        got = propose(sys, [c.id], travel, W, 7, prices, order=order)
        want = _reference_single(sys, travel, c.id, 7, prices, order)
        assert [(p.key, p.own_score, p.capacity_price, p.own_rank, p.system_rank) for p in got] == want
        checked += bool(got)
    assert checked > 5


def _index_arrays(index):
    from dataclasses import fields

    out = {}
    for f in fields(index):
        value = getattr(index, f.name)
        if f.name in ("system", "travel"):
            continue
        out[f.name] = value.tolist() if isinstance(value, np.ndarray) else dict(value) if isinstance(value, dict) else value
    return out


@pytest.mark.parametrize("unplace", [False, True])
def test_index_with_changes_equals_the_index_built_from_scratch(unplace):
    """After confirmations (waiting children placed, occupied + 1), capacity updates and, in the
    second case, a child who is waiting again (the fallback to a full build)."""
    from dataclasses import replace

    from data.generator import generate
    from matcher import CurrentPlacement
    from matcher.proposals import SystemIndex
    from tests.api_support import CrowFlyTravel

    sys = generate(scale=0.05, seed=3)
    travel = CrowFlyTravel().matrix(sys.origins, sys.structures)
    index = SystemIndex.build(sys, travel)
    open_units = [u for u in sys.units if u.free >= 1]
    waiting = [c for c in sys.children if c.is_waiting]
    units = {u.id: replace(u, occupied=u.occupied + 1) for u in open_units[:8]}
    children = [replace(c, current=CurrentPlacement(u.id, ON)) for c, u in zip(waiting[::2], open_units[:8])]
    for u in open_units[8:12]:
        units[u.id] = replace(u, capacity=u.occupied + 3)
    if unplace:
        placed = next(c for c in sys.children if c.current is not None)
        old = sys.unit_by_id[placed.current.unit_id]
        units[old.id] = replace(units.get(old.id, old), occupied=units.get(old.id, old).occupied - 1)
        children.append(replace(placed, current=None))
    changed = sys.with_changes(units.values(), children)
    updated = index.with_changes(changed, units, [c.id for c in children])
    fresh = SystemIndex.build(changed, travel)
    assert updated.system is changed
    assert _index_arrays(updated) == _index_arrays(fresh)
    assert len(updated.waiting_ids) == len(index.waiting_ids) - 8 + unplace
    some = waiting[1]
    got = [p.key for p in propose(changed, [some.id], travel, W, 10, index=updated)]
    assert got and got == [p.key for p in propose(changed, [some.id], travel, W, 10)]


# --- issue 13: wrong answers fixed ---------------------------------------------------------------


def placed_fratrie():
    """C-a is placed in S-far (a 4-11 unit with one free place, 120 min away); her brother C-b
    waits. S-both has room for both and is much nearer home: moving her is better than staying."""
    from datetime import date

    from matcher import CurrentPlacement

    home = Home("H-F", PARIS_18)
    kids = [child("C-a", 6, Sex.FEMALE, home=home, sibling_group_id="F-1",
                  current=CurrentPlacement("U-far", date(2026, 1, 5))),
            child("C-b", 9, home=home, sibling_group_id="F-1")]
    structures = [structure("S-both", name="MECS Both"), structure("S-far", location=SAINT_DENIS, name="MECS Far")]
    units = [unit("U-both", "S-both", (4, 11), capacity=3), unit("U-far", "S-far", (4, 11), capacity=2, occupied=1)]
    sys = system(kids, structures, units, [SiblingGroup("F-1", ("C-a", "C-b"))])
    return sys, matrix(sys, {("H-F", "S-both"): 10, ("H-F", "S-far"): 120})


def test_a_placed_sibling_is_not_moved_unless_asked_and_then_the_move_is_named():
    sys, travel = placed_fratrie()
    stay = propose(sys, ["C-a", "C-b"], travel, W, k=10)
    assert stay and all(p.placements[0].unit_id == "U-far" and p.placements[0].moved_from is None for p in stay)
    assert stay[0].siblings_together and {pl.unit_id for pl in stay[0].placements} == {"U-far"}
    assert all(not p.moves for p in stay)
    moved = propose(sys, ["C-a", "C-b"], travel, W, k=10, allow_moves=True)
    first = moved[0]
    assert {pl.unit_id for pl in first.placements} == {"U-both"} and first.placements[0].moved_from == "U-far"
    assert first.moves == ("Moves the sister C-a from MECS Far (S-far) (unit U-far) to MECS Both (S-both) (unit U-both).",)
    fr = propose(sys, ["C-a", "C-b"], travel, W, allow_moves=True, lang="fr")[0]
    assert fr.moves == ("Déplace sa sœur C-a de MECS Far (S-far) (unité U-far) vers MECS Both (S-both) (unité U-both).",)


def test_siblings_together_is_absent_for_one_child():
    sys, travel = three_structures()
    assert all(p.siblings_together is None for p in propose(sys, ["C-1"], travel, W))
    fsys, ftravel = fratrie()
    assert propose(fsys, ["C-a", "C-b"], ftravel, W)[0].siblings_together is True


def test_why_not_full_names_only_the_units_that_would_take_the_child():
    sys, travel = three_structures()
    answer = why_not(sys, ["C-1"], "S-near", travel, W, held={"U-near": 1})
    assert answer.verdict == "full" and "U-near 1/1" in answer.sentence
    assert "U-teen" not in answer.sentence  # a 12-15 unit never took an 8-year-old
    assert any(c.unit_id == "U-teen" for c in answer.checks)  # the machine field keeps every unit


def test_why_not_where_the_child_already_lives_says_so():
    from datetime import date

    from matcher import CurrentPlacement

    sys = system(
        [child("C-1", 8, current=CurrentPlacement("U-near", date(2026, 1, 5)))],
        [structure("S-near", name="MECS Near"), structure("S-mid")],
        [unit("U-near", "S-near", capacity=1, occupied=1), unit("U-mid", "S-mid", capacity=2)],
    )
    travel = matrix(sys, {("H-1", "S-near"): 10, ("H-1", "S-mid"): 25})
    answer = why_not(sys, ["C-1"], "S-near", travel, W)
    assert answer.verdict == "already_placed"
    assert answer.sentence == "C-1 (unit U-near) already lives at MECS Near (S-near): there is nothing to propose there."
    assert why_not(sys, ["C-1"], "S-near", travel, W, lang="fr").sentence.startswith("C-1 (unité U-near) vit déjà à MECS Near")
    assert why_not(sys, ["C-1"], "S-mid", travel, W).verdict == "best"


def test_why_not_in_french_has_no_internal_terms():
    sys, travel = three_structures(judge=JudgeConstraints(excluded_structures=frozenset({"S-mid"})))
    said = why_not(sys, ["C-1"], "S-mid", travel, W, lang="fr").sentence
    assert said == "mecs S-mid (S-mid) est exclue pour C-1 : unité U-mid : le juge a exclu cette structure."
    far = why_not(sys, ["C-1"], "S-far", travel, W, lang="fr").sentence
    assert "arrive en position 2" in far and "surtout le trajet : +30 min depuis le domicile familial" in far
    assert "_" not in far and "min-equivalent" not in far


def test_stale_vacancies_rank_below_fresh_ones_at_an_equal_score_only():
    sys = system([child("C-1", 8)], [structure("S-a"), structure("S-b"), structure("S-c")],
                 [unit("U-a", "S-a"), unit("U-b", "S-b"), unit("U-c", "S-c")])
    travel = matrix(sys, {("H-1", "S-a"): 20, ("H-1", "S-b"): 20, ("H-1", "S-c"): 10})
    assert [p.structure_id for p in propose(sys, ["C-1"], travel, W)] == ["S-c", "S-a", "S-b"]
    stale = frozenset({"U-a", "U-c"})
    # S-a and S-b score the same: the fresh S-b goes first; S-c is better, stale or not
    assert [p.structure_id for p in propose(sys, ["C-1"], travel, W, stale_units=stale)] == ["S-c", "S-b", "S-a"]
    fratrie_sys, ftravel = fratrie()
    plain = [p.key for p in propose(fratrie_sys, ["C-a", "C-b"], ftravel, W)]
    assert [p.key for p in propose(fratrie_sys, ["C-a", "C-b"], ftravel, W, stale_units=frozenset({"U-small"}))] == plain


def test_a_split_proposal_says_why_in_words():
    sys, travel = fratrie()
    props = propose(sys, ["C-a", "C-b"], travel, W, held={"U-both-12": 1}, lang="fr")
    assert props and all(p.siblings_together is False for p in props)
    assert props[0].split_reason == ("Les structures qui accueilleraient chacun d'eux (mecs S-small (S-small)) n'ont "
                                     "pas assez de places libres pour les 2 ensemble.")
    together = propose(sys, ["C-a", "C-b"], travel, W)
    assert together[0].split_reason is None
    assert together[1].split_reason == "An option that keeps the siblings together exists and ranks before this one."
    apart = propose(*fratrie(separated=True)[:1], ["C-a", "C-b"], fratrie(separated=True)[1], W)
    assert apart[0].split_reason == "The judge ordered C-a and C-b placed apart."


def test_french_sentences_agree_with_the_child():
    sys, travel = three_structures()
    boy = propose(sys, ["C-1"], travel, W, unit_prices={"U-near": 100.0}, order="system", lang="fr")[0].explanation
    assert "n° 2 pour C-1 seul)" in boy and "première pour lui seul" in boy
    from matcher import Sex as S

    gsys, gtravel = three_structures(sex=S.FEMALE)
    girl = propose(gsys, ["C-1"], gtravel, W, unit_prices={"U-near": 100.0}, order="system", lang="fr")[0].explanation
    assert "n° 2 pour C-1 seule)" in girl and "première pour elle seule" in girl
def test_together_proposal_never_puts_two_siblings_in_a_unit_that_does_not_take_siblings():
    """Regression (issue 11): the first proposal put both siblings of a fratrie in one unit with
    takes_siblings = false, which holds at most one member of a fratrie."""
    sys = system(
        [child("C-a", 8, sibling_group_id="F-1"), child("C-b", 9, sibling_group_id="F-1")],
        [structure("S-1")],
        [unit("U-1", "S-1", capacity=2, takes_siblings=False)],
        [SiblingGroup("F-1", ("C-a", "C-b"))],
    )
    travel = matrix(sys, {("H-1", "S-1"): 10})
    props = propose(sys, ["C-a", "C-b"], travel, W)
    assert props, "one sibling still fits in U-1: a split proposal is expected"
    assert not any(p.siblings_together for p in props)
    for p in props:
        units = [pl.unit_id for pl in p.placements if pl.unit_id is not None]
        assert units.count("U-1") <= 1
    first = props[0]
    assert {pl.unit_id for pl in first.placements} == {"U-1", None}


# --- the hard-rule check of every proposal (matcher.proposals.proposal_violations) -------------

def test_no_proposal_in_the_structure_where_a_child_the_judge_separated_lives():
    """A judge's separation order with a child placed now: its structure is never proposed (the
    solver's forbidden structures; proposals used to offer it first)."""
    base, _ = three_structures()
    placed = child("C-2", 13, home=Home("H-2", PARIS_18), current=CurrentPlacement("U-teen", ON))
    units = [u if u.id != "U-teen" else unit("U-teen", "S-near", (12, 15), occupied=1) for u in base.units]
    sys = system([child("C-1", 8, judge=JudgeConstraints(separated_from=frozenset({"C-2"}))), placed],
                 list(base.structures), units)
    travel = matrix(sys, {("H-1", "S-near"): 10, ("H-1", "S-mid"): 25, ("H-1", "S-far"): 40})
    assert [p.structure_id for p in propose(base, ["C-1"], matrix(base, {("H-1", "S-near"): 10}), W)][:1] == ["S-near"]
    props = propose(sys, ["C-1"], travel, W)
    assert [p.structure_id for p in props] == ["S-mid", "S-far"]
    # the order may be written on the other child's side only
    other_side = system([child("C-1", 8), child("C-2", 13, home=Home("H-2", PARIS_18), current=CurrentPlacement("U-teen", ON),
                                                judge=JudgeConstraints(separated_from=frozenset({"C-1"})))],
                        list(sys.structures), list(sys.units))
    assert [p.structure_id for p in propose(other_side, ["C-1"], travel, W)] == ["S-mid", "S-far"]
    answer = why_not(sys, ["C-1"], "S-near", travel, W)
    assert answer.verdict == "separated"
    assert answer.sentence == "mecs S-near (S-near) cannot take them: the judge separated C-1 from C-2, who lives there."


def test_proposal_violations_empty_for_every_proposal_made():
    sys, travel = fratrie()
    for p in propose(sys, ["C-a", "C-b"], travel, W):
        assert proposal_violations(sys, p, travel) == []


def test_proposal_violations_names_an_option_rule_and_the_child():
    sys, travel = three_structures()
    p = propose(sys, ["C-1"], travel, W)[0]
    bad = replace(p, placements=(ChildPlacement("C-1", "S-near", "U-teen", 10.0, None),))
    found = proposal_violations(sys, bad, travel)
    assert [(v.rule, v.child_ids, v.unit_id) for v in found] == [("age_range", ("C-1",), "U-teen")]


def test_proposal_violations_free_place_counts_held_places():
    sys, travel = three_structures()
    p = propose(sys, ["C-1"], travel, W)[0]
    assert p.placements[0].unit_id == "U-near"
    assert proposal_violations(sys, p, travel) == []
    found = proposal_violations(sys, p, travel, held={"U-near": 1})
    assert [(v.rule, v.child_ids) for v in found] == [("free_place", ("C-1",))]


def test_proposal_violations_judge_separation_and_unit_takes_siblings():
    sys, travel = fratrie(separated=True)
    p = propose(sys, ["C-a", "C-b"], travel, W)[0]
    together = replace(p, placements=(ChildPlacement("C-a", "S-small", "U-small", 5.0, None),
                                       ChildPlacement("C-b", "S-small", "U-small", 5.0, None)))
    rules = sorted(v.rule for v in proposal_violations(sys, together, travel))
    assert rules == ["free_place", "judge_separation"]  # U-small has one place
    closed = system(list(sys.children), list(sys.structures),
                    [u if u.id != "U-small" else unit("U-small", "S-small", (4, 15), capacity=2, takes_siblings=False)
                     for u in sys.units], list(sys.sibling_groups))
    rules = sorted(v.rule for v in proposal_violations(closed, together, travel))
    assert rules == ["judge_separation", "unit_takes_siblings"]


def test_proposal_violations_a_split_must_count_its_extra_structure():
    sys, travel = fratrie()
    split = next(p for p in propose(sys, ["C-a", "C-b"], travel, W) if not p.siblings_together)
    assert proposal_violations(sys, split, travel) == []
    hidden = replace(split, components=tuple(c for c in split.components if c.name != "siblings_split"))
    assert [v.rule for v in proposal_violations(sys, hidden, travel)] == ["siblings_together"]


@pytest.mark.parametrize("bug,rule", [
    ("room", "unit_takes_siblings"),
    ("eligible", "needs_met"),
])
def test_propose_never_returns_a_proposal_that_breaks_a_hard_rule(monkeypatch, bug, rule):
    import matcher.proposals as proposals
    from matcher import Need

    sys = system(
        [child("C-a", 8, sibling_group_id="F-1", needs=(Need.PSYCHIC_CARE,) if bug == "eligible" else ()),
         child("C-b", 9, sibling_group_id="F-1")],
        [structure("S-1")],
        [unit("U-1", "S-1", capacity=2, takes_siblings=bug == "eligible")],
        [SiblingGroup("F-1", ("C-a", "C-b"))],
    )
    travel = matrix(sys, {("H-1", "S-1"): 10})
    if bug == "room":  # the bug of issue 11, put back
        monkeypatch.setattr(proposals, "_room", lambda cand, free: int(free[cand.position]))
    else:
        monkeypatch.setattr(proposals, "is_eligible", lambda *args: True)
    with pytest.raises(HardRuleViolation) as caught:
        propose(sys, ["C-a", "C-b"], travel, W)
    assert rule in caught.value.rules
    assert str(caught.value).startswith("proposals for C-a, C-b: the answer breaks a hard rule")
    assert "C-a" in str(caught.value)


def test_a_fratries_drafts_rank_exactly_as_its_proposals():
    """propose() ranks a fratrie's options on drafts (matcher.proposals._draft) and builds only the
    k shown (_make): both must give the same structure, scores, together flag and key, to the
    last bit, on every option (splits, unplaced siblings, prices, held places)."""
    from api.services import CrowFlyTravel
    from data.generator import generate
    from matcher.proposals import SystemIndex, _all_proposals

    system = generate(scale=0.1, seed=5)
    travel = CrowFlyTravel().matrix(system.origins, system.structures)
    index = SystemIndex.build(system, travel)
    rng = np.random.default_rng(5)
    prices = {u.id: float(rng.integers(0, 80)) for u in system.units}
    held = {u.id: 1 for u in system.units[::3]}
    compared = 0
    for group in system.sibling_groups:
        children = [system.child_by_id[c] for c in group.child_ids]
        for moves in (False, True):
            made, *_ = _all_proposals(system, children, travel, W, prices, held, index, moves)
            drafts, *_ = _all_proposals(system, children, travel, W, prices, held, index, moves, drafts=True)
            assert [d.key for d in drafts] == [p.key for p in made]
            for d, p in zip(drafts, made):
                assert (d.structure_id, d.own_score, d.capacity_price, d.siblings_together, d.system_score) == \
                    (p.structure_id, p.own_score, p.capacity_price, p.siblings_together, p.system_score)
            compared += len(made)
    assert compared > 100


# --- user audit of the officers' service: moves, split fratries, prices and French words ---------


def living_sibling(free_at_home: int = 1, b_needs=(), home_minutes: float = 15):
    """C-a (a boy of 8) lives in U-home (S-home, Assistant familial, ``free_at_home`` free places);
    his sister C-b (9) waits. S-mid takes both, a little farther; S-b takes her alone."""
    from datetime import date

    from matcher import CurrentPlacement

    home = Home("H-F", PARIS_18)
    kids = [child("C-a", 8, home=home, sibling_group_id="F-1", current=CurrentPlacement("U-home", date(2025, 3, 1))),
            child("C-b", 9, Sex.FEMALE, home=home, sibling_group_id="F-1", needs=b_needs)]
    structures = [structure("S-home", StructureType.ASSISTANT_FAMILIAL, name="Assistant familial S-home"),
                  structure("S-mid", name="MECS Mid", capabilities=b_needs), structure("S-b", name="MECS B",
                                                                                        capabilities=b_needs)]
    units = [unit("U-home", "S-home", (4, 11), capacity=1 + free_at_home, occupied=1),
             unit("U-mid", "S-mid", (4, 11), capacity=4), unit("U-b", "S-b", (4, 11), capacity=1)]
    sys = system(kids, structures, units, [SiblingGroup("F-1", ("C-a", "C-b"))])
    return sys, matrix(sys, {("H-F", "S-home"): home_minutes, ("H-F", "S-mid"): 25, ("H-F", "S-b"): 12})


@pytest.mark.parametrize("allow_moves", [False, True])
def test_with_moves_allowed_a_placed_sibling_may_still_stay_and_pays_no_capacity_price(allow_moves):
    """Audit 1: ``allow_moves`` allows a move, it does not force one. C-a's unit has one free
    place, for his sister: the best proposal keeps both there, C-a staying (no move, no capacity
    price for his own seat); S-mid (both moved) comes after."""
    sys, travel = living_sibling()
    prices = {"U-home": 40.0, "U-mid": 5.0, "U-b": 5.0}
    props = propose(sys, ["C-a", "C-b"], travel, W, k=10, unit_prices=prices, allow_moves=allow_moves)
    first = props[0]
    assert first.siblings_together and first.structure_id == "S-home"
    assert {p.child_id: (p.unit_id, p.moved_from) for p in first.placements} == \
        {"C-a": ("U-home", None), "C-b": ("U-home", None)}
    assert first.moves == ()
    stayer = next(p for p in first.placements if p.child_id == "C-a")
    assert stayer.unit_price == 0.0 and first.capacity_price == 40.0  # only C-b takes a place
    assert all(p.unit_price == 0.0 for prop in props for p in prop.placements if p.child_id == "C-a"
               and p.moved_from is None)
    moved = [p for p in props if any(pl.moved_from for pl in p.placements)]
    assert bool(moved) == allow_moves
    if allow_moves:
        assert any(p.structure_id == "S-mid" and p.siblings_together for p in moved)
    answer = why_not(sys, ["C-a", "C-b"], "S-home", travel, W, allow_moves=allow_moves)
    assert answer.verdict == "best"


def test_with_moves_allowed_a_move_is_proposed_first_only_when_it_is_better():
    """Audit 1: the same fratrie with the home 150 min away: moving both to S-mid is better."""
    sys, travel = living_sibling(home_minutes=150)
    first = propose(sys, ["C-a", "C-b"], travel, W, allow_moves=True)[0]
    assert first.structure_id == "S-mid" and first.placements[0].moved_from == "U-home"
    stay = propose(sys, ["C-a", "C-b"], travel, W, allow_moves=False)[0]
    assert stay.structure_id == "S-home" and stay.placements[0].moved_from is None


def test_a_split_fratrie_is_headed_where_the_children_are_newly_placed_and_says_why_in_words():
    """Audit 7: C-a lives in a full foster home; his sister goes elsewhere. The proposal is headed
    by her new structure, not his home; the explanation compares with the first on its own
    score; the split reason says he stays because moves are not allowed, and where moving him
    would keep them together."""
    sys, travel = living_sibling(free_at_home=0)
    prices = {"U-b": 300.0}
    props = propose(sys, ["C-a", "C-b"], travel, W, k=5, unit_prices=prices, lang="fr")
    assert [p.structure_id for p in props] == ["S-b", "S-mid"]
    assert all(p.siblings_together is False for p in props)
    assert props[0].split_reason == (
        "Son frère C-a vit à Assistant familial S-home (S-home) et y reste, les déplacements n'étant pas "
        "autorisés ; cette structure ne peut pas accueillir aussi C-b. Autoriser les déplacements (allow_moves) "
        "permettrait de le déplacer pour réunir la fratrie, par exemple à MECS Mid (S-mid).")
    by_system = propose(sys, ["C-a", "C-b"], travel, W, k=5, unit_prices=prices, order="system", lang="en")
    assert by_system[0].structure_id == "S-mid"
    assert "13 min more travel than MECS B (S-b), first on its own" in by_system[0].explanation
    assert "Assistant familial S-home" not in by_system[0].explanation
    assert by_system[0].split_reason.startswith("The brother C-a lives at Assistant familial S-home (S-home) and "
                                                "stays there, as moves are not allowed")
    # with moves allowed, the fratrie is kept together: no split reason to give first
    moved = propose(sys, ["C-a", "C-b"], travel, W, allow_moves=True)
    assert moved[0].siblings_together and moved[0].structure_id == "S-mid"


def test_the_capacity_price_is_not_said_as_travel_time():
    """Audit 13: the capacity price is not minutes of travel: below what a longer trip can cost it
    is said as the minutes added to the other children's trips, above it as a child who would
    likely be left without a place."""
    sys, travel = three_structures()
    low = propose(sys, ["C-1"], travel, W, unit_prices={"U-near": 100.4})[0].explanation
    assert "taking the place in the 4-11 unit U-near at mecs S-near (S-near) would add about 100 min in all " \
        "to the trips of the other children waiting" in low
    assert "without a place" not in low and "worth" not in low
    high = propose(sys, ["C-1"], travel, W, unit_prices={"U-near": 2016.0}, lang="fr")[0].explanation
    assert "prendre la place de l'unité 4-11 ans U-near à mecs S-near (S-near) laisserait probablement un " \
        "autre enfant en attente sans place" in high
    assert "2016" not in high and "de trajet pour" not in high
    freed = propose(sys, ["C-1"], travel, W, unit_prices={"U-near": 2016.0}, order="system")[0].explanation
    assert "it leaves free a place in the 4-11 unit U-near at mecs S-near (S-near), which would likely give a " \
        "place to another child waiting who would otherwise have none" in freed


def test_why_not_where_a_sibling_already_lives_names_him_and_says_what_it_means_for_the_others():
    """Audit 14 (and 1): a sibling who lives in the structure asked about is named; with room for
    his sister it is the best option, moves allowed or not; else it says who it excludes and why."""
    sys, travel = living_sibling()
    for allow_moves in (False, True):
        answer = why_not(sys, ["C-b", "C-a"], "S-home", travel, W, allow_moves=allow_moves)
        assert answer.verdict == "best"
        assert answer.sentence == ("The brother C-a (unit U-home) already lives at Assistant familial S-home (S-home), "
                                   "and it has room for C-b: it is the best option.")
    full = why_not(*living_sibling(free_at_home=0)[:1], ["C-a", "C-b"], "S-home", living_sibling()[1], W, lang="fr")
    assert full.verdict == "full" and full.sentence.startswith(
        "Son frère C-a (unité U-home) vit déjà à Assistant familial S-home (S-home), mais la structure n'a pas de "
        "place libre pour C-b : toutes les unités qui l'accueilleraient sont complètes")
    from matcher import Need

    sys, travel = living_sibling(b_needs=(Need.PSYCHIC_CARE,))
    excluded = why_not(sys, ["C-a", "C-b"], "S-home", travel, W, lang="fr")
    assert excluded.verdict == "excluded"
    assert excluded.sentence == ("Son frère C-a (unité U-home) vit déjà à Assistant familial S-home (S-home), mais "
                                 "la structure est exclue pour C-b : unité U-home : la structure n'offre pas de soins "
                                 "psychiques.")


def test_french_words_of_rules_moves_and_checks():
    """Audit 12: natural French for missing needs, "1 an", elision before a vowel, a space before
    " ; ", and each check's reason in French (the machine field ``rule`` unchanged)."""
    from datetime import date

    from matcher import CurrentPlacement, Need

    baby = child("C-1", 1, needs=(Need.DISABILITY, Need.PROTECTION))
    sys = system([baby], [structure("S-1", name="Accueil S-1")], [unit("U-1", "S-1", (4, 11), capacity=1, occupied=1)])
    travel = matrix(sys, {("H-1", "S-1"): 10})
    answer = why_not(sys, ["C-1"], "S-1", travel, W, lang="fr")
    assert answer.sentence == (
        "Accueil S-1 (S-1) est exclue pour C-1 : unité U-1 : à 1 an, C-1 est hors de la tranche 4-11 ans de "
        "l'unité ; la structure ne prend pas en charge le handicap et n'offre pas de place secrète de protection.")
    reasons = {e.rule: e.reason for e in answer.checks[0].exclusions}
    assert reasons["age_range"] == "à 1 an, C-1 est hors de la tranche 4-11 ans de l'unité"
    assert reasons["free_place"] == "complète (1 place prise sur 1)"
    english = why_not(sys, ["C-1"], "S-1", travel, W, lang="en").checks[0].exclusions
    assert [e.rule for e in english] == list(reasons)
    assert "n'offre pas un" not in answer.sentence
    kids = [child("C-a", 6, Sex.FEMALE, sibling_group_id="F-1", current=CurrentPlacement("U-af", date(2026, 1, 5))),
            child("C-b", 9, sibling_group_id="F-1"), child("C-c", 7), child("C-d", 8)]
    fsys = system(kids, [structure("S-af", StructureType.ASSISTANT_FAMILIAL, name="Assistant familial AF-1"),
                         structure("S-both", name="MECS Both")],
                  [unit("U-af", "S-af", (4, 11), capacity=1, occupied=1), unit("U-both", "S-both", (4, 11), capacity=1,
                                                                                 occupied=0)],
                  [SiblingGroup("F-1", ("C-a", "C-b"))])
    ftravel = matrix(fsys, {("H-1", "S-af"): 90, ("H-1", "S-both"): 10})
    full = why_not(fsys, ["C-c", "C-d"], "S-both", ftravel, W, lang="fr", held={"U-both": 1})
    assert "toutes les unités qui les accueilleraient sont complètes" in full.sentence
    moves = [m for p in propose(fsys, ["C-a", "C-b"], ftravel, W, k=10, allow_moves=True, lang="fr") for m in p.moves]
    assert moves and all("d'Assistant familial AF-1" in m for m in moves if "AF-1" in m)
    assert "Déplace sa sœur C-a d'Assistant familial AF-1 (S-af) (unité U-af) vers MECS Both (S-both) (unité U-both)." \
        in moves
