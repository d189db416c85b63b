"""Soft rules: the score of one option and the weights configuration."""

from pathlib import Path

import pytest

from matcher import CurrentPlacement, DomainError, Urgency, Weights, score_option
from tests.factories import NEVERS, ON, SAINT_DENIS, child, option, structure, unit

W = Weights.default()


def test_default_weights_load_from_the_documented_file():
    assert W.transit_minute == 1.0
    # a split fratrie is better than a child without a place, and worse than a move
    assert W.unplaced > W.siblings_split > W.move
    assert W.unplaced_special_needs > 0


def test_score_in_paris_is_minutes_plus_price():
    score = score_option(child(), option(structure(daily_price_eur=200.0), minutes=25.0), W, ON)
    assert score.component("transit_time").quantity == 25.0
    assert score.component("outside_paris").cost == 0.0
    assert score.total == pytest.approx(25.0 + 200.0 * W.daily_price_eur)


def test_score_grows_outside_paris_and_outside_ile_de_france():
    idf = score_option(child(), option(structure(location=SAINT_DENIS), minutes=25.0), W, ON)
    province = score_option(child(), option(structure(location=NEVERS), minutes=25.0), W, ON)
    assert idf.component("outside_paris").cost == W.outside_paris
    assert province.component("outside_ile_de_france").cost == W.outside_ile_de_france
    assert province.total > idf.total


def test_unreachable_counts_as_a_long_trip():
    score = score_option(child(), option(minutes=None), W, ON)
    assert score.component("transit_time").quantity == W.unreachable_minutes


def test_stability_penalises_a_move_only():
    placed = child(current=CurrentPlacement("U-1", ON))
    assert score_option(placed, option(u=unit("U-1")), W, ON).component("stability").cost == 0.0
    assert score_option(placed, option(u=unit("U-2")), W, ON).component("stability").cost == W.move


def test_unplaced_cost_higher_for_urgent_and_infants():
    """The formula on known weights, and the configured weights make both strictly dearer (a
    weight of 0 in matcher/weights.toml once left the urgent child without the only place)."""
    from dataclasses import replace

    w = replace(W, unplaced=100.0, unplaced_urgent=30.0, unplaced_infant=7.0)
    assert w.unplaced_cost(child(age=8), ON) == 100.0
    assert w.unplaced_cost(child(age=8, urgency=Urgency.URGENT), ON) == 130.0
    assert w.unplaced_cost(child(age=2), ON) == 107.0
    assert w.unplaced_cost(child(age=4), ON) == 100.0  # 4 is no longer an infant (0-3)
    assert w.unplaced_cost(child(age=3, urgency=Urgency.URGENT), ON) == 137.0
    base = W.unplaced_cost(child(age=8), ON)
    assert base > 0
    assert W.unplaced_cost(child(age=8, urgency=Urgency.URGENT), ON) > base
    assert W.unplaced_cost(child(age=2), ON) > base


def test_weights_file_overrides_some_keys(tmp_path: Path):
    path = tmp_path / "w.toml"
    path.write_text("[objective]\nmove = 10\n")
    w = Weights.load(path)
    assert w.move == 10.0 and w.unplaced == W.unplaced


def test_weights_file_errors_name_the_file_and_key(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text("transit_minuet = 2\n")
    with pytest.raises(DomainError, match=r"bad.toml: unknown weight\(s\) transit_minuet"):
        Weights.load(bad)
    for text in ('unplaced_sibling = "lots"\n', "unplaced_sibling = true\n"):  # the weight of issue 13
        typo = tmp_path / "typed.toml"
        typo.write_text(text)
        with pytest.raises(DomainError, match="typed.toml: weight unplaced_sibling must be a non-negative number"):
            Weights.load(typo)
    neg = tmp_path / "neg.toml"
    neg.write_text("move = -1\n")
    with pytest.raises(DomainError, match="weight move must be a non-negative number"):
        Weights.load(neg)
    broken = tmp_path / "broken.toml"
    broken.write_text("move = = 1\n")
    with pytest.raises(DomainError, match="broken.toml: not valid TOML"):
        Weights.load(broken)
    with pytest.raises(DomainError, match="weights file not found"):
        Weights.load(tmp_path / "nope.toml")


def test_a_child_with_a_special_need_costs_more_to_leave_without_a_place():
    from matcher import Need
    from tests.factories import ON

    plain, special = child("A"), child("B", needs=(Need.DISABILITY,))
    assert W.unplaced_cost(special, ON) == W.unplaced_cost(plain, ON) + W.unplaced_special_needs
    assert W.unplaced_cost(child("C", needs=(Need.UNACCOMPANIED_MINOR,)), ON) == W.unplaced_cost(plain, ON)


def test_score_costs_and_total_equal_the_scores_to_the_last_bit():
    """matcher.scoring.score_costs (the proposals rank every eligible unit on their sum, and a
    fratrie's drafts sum them) must equal score_option's component costs and total exactly,
    on every term: a dropped, swapped or reordered term fails here. The
    pairs cover every term at a non-zero cost (moves, schools, hotels, the provinces, unknown
    travel), each weight set apart so that a swapped weight shows too."""
    import numpy as np

    from api.services import CrowFlyTravel
    from data.generator import generate
    from matcher import Option
    from matcher.scoring import school_continuity_applies, score_costs

    system = generate(scale=0.1, seed=3)
    travel = CrowFlyTravel().matrix(system.origins, system.structures)
    weights = Weights.from_mapping({"transit_minute": 1.1, "outside_paris": 7.3, "outside_ile_de_france": 13.7,
                                    "daily_price_eur": 0.31, "move": 41.9, "school_minute": 0.53, "hotel": 97.1},
                                   base=Weights.default())
    on = system.reference_date
    rng = np.random.default_rng(3)
    seen: set[str] = set()
    for child in system.children:
        applies = school_continuity_applies(child, on)
        for j in rng.choice(len(system.units), size=6, replace=False):
            unit = system.units[int(j)]
            structure = system.structure_of(unit)
            opt = Option.of(child, structure, unit, travel)
            if rng.random() < 0.1:
                opt = Option(structure, unit, None, None)  # unreachable: counted as a long trip
            score = score_option(child, opt, weights, on)
            assert score_costs(child, opt, weights, on, applies) == tuple(c.cost for c in score.components)
            assert sum(score_costs(child, opt, weights, on)) == score.total
            seen |= {c.name for c in score.components if c.cost}
    assert seen == {"transit_time", "outside_paris", "outside_ile_de_france", "daily_price", "stability",
                    "school_continuity", "hotel_stay"}
