"""Every assumption of the simulation of arrivals and departures, as named parameters.

One frozen dataclass, :class:`SimulationParameters`; each field carries its source in its
metadata (``source``): a line of the Paris plan (``/work/shared/reference``: "Paris plan L1563"),
the generator it reuses, or "assumed" (a modelling choice, to be replaced by ASE figures). The
calibration test (tests/test_simulation.py) checks the published figures the parameters must
reproduce: a stock of about 5,100 that stays stable over a year, and 12-15 year-olds making 34%
of entrants and 19% of leavers.

``SimulationParameters.from_mapping`` rejects unknown names, so a typo in a scenario file is an
error, not a silent default.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields, replace
from typing import Any, Mapping

from matcher.errors import DomainError

AGE_BANDS = ("0-3", "4-11", "12-15", "16-17", "18-21")


def _p(default: Any, source: str, unit: str = "") -> Any:
    if isinstance(default, (dict, list, tuple)):
        return field(default_factory=lambda: type(default)(default), metadata={"source": source, "unit": unit})
    return field(default=default, metadata={"source": source, "unit": unit})


@dataclass(frozen=True)
class SimulationParameters:
    """The named parameters of :mod:`planning.simulation` (see each field's ``source``)."""

    # --- period -------------------------------------------------------------------------------
    months: int = _p(12, "issue 17: default period", "months")
    """Length of the simulated period (daily steps: months x 365 / 12 days, rounded)."""

    # --- arrivals -----------------------------------------------------------------------------
    entries_per_child_per_year: float = _p(
        0.48,
        "assumed: entries per year per child in care on day 0 (2,450 a year for the 5,106 of Paris, "
        "Paris plan L85), so that with the departures below the stock stays stable (calibration "
        "test); the plan gives no count of admissions (paris-plan-figures.md, 'Durations and flows')",
        "entries per year per child in care",
    )
    entrant_age_shares: dict = _p(
        {"0-3": 0.13, "4-11": 0.17, "12-15": 0.34, "16-17": 0.31, "18-21": 0.05},
        "12-15: 34% of entrants, Paris plan L1563; the other bands assumed (infants and MNA aged "
        "16-17 are the other large groups of admissions, young adults rarely enter)",
        "share of entrants",
    )
    urgent_share_infant_or_protection: float = _p(
        0.5, "data/generator.py make_dates: urgent share of waiting infants and protected girls (assumed there)", "share")
    urgent_share_other: float = _p(
        0.2, "data/generator.py make_dates: urgent share of other waiting children (assumed there)", "share")

    # --- departures (annual hazards; a child leaves at the first of these events) -----------
    return_home_per_year: dict = _p(
        {"0-3": 0.30, "4-11": 0.24, "12-15": 0.45, "16-17": 0.36},
        "assumed: annual rate of return home (mainlevée, end of an accueil provisoire) by age "
        "band, tuned so that 12-15 year-olds are 19% of leavers (Paris plan L1563)",
        "per year",
    )
    majority_exit_share: float = _p(
        0.50,
        "assumed: share of minors in care who leave on their 18th birthday (no contrat jeune "
        "majeur); 1,390 young adults in care (Paris plan L374) for about 650 turning 18 each year",
        "share",
    )
    contract_end_per_year: float = _p(
        0.55, "assumed: annual rate at which a young adult's contract (contrat jeune majeur) ends before 21", "per year")
    age_limit_years: int = _p(21, "matcher.model.MAX_AGE_YEARS: the contrat jeune majeur ends at 21", "years")

    # --- ageing ---------------------------------------------------------------------------------
    move_when_ageing_out: bool = _p(
        True, "assumed: a child older than its unit's age range is moved (a move request joins the queue)", "")

    # --- policies -------------------------------------------------------------------------------
    batch_days: int = _p(7, "assumed: the optimiser runs once a week (issue 17: daily or weekly batches)", "days")
    batch_time_limit_s: float = _p(3.0, "assumed: the optimiser's budget per batch", "seconds")
    price_refresh_days: int = _p(1, "assumed: capacity prices recomputed each day from the queue", "days")
    waiting_day_cost: float = _p(
        20.0, "assumed: one day without a place is worth 20 minutes of a parent's trip (minutes-equivalent)",
        "minutes-equivalent per day")
    hindsight_checkpoint_days: int = _p(
        28, "assumed: days between the checkpoints of the hindsight relaxation (closer: tighter and slower)", "days")
    hindsight_slots_per_arc: int = _p(
        3, "assumed: start slots per arc in the hindsight LP (prices only; the bound covers every slot)", "slots")
    hindsight_pricing_rounds: int = _p(
        25, "assumed: most rounds of pricing (arcs added to the hindsight LP); it stops earlier when nothing is left to add", "rounds")
    hindsight_time_limit_s: float = _p(
        180.0, "assumed: safety budget of the hindsight bound's pricing (the bound holds whenever it stops)", "seconds")
    hindsight_subgradient_steps: int = _p(
        20, "assumed: subgradient steps after the LP rounds (the counts, not the clock, end the search, so the "
        "bound is the same on any machine unless hindsight_time_limit_s cuts it short)", "steps")
    hindsight_candidates_per_child: int = _p(
        6, "assumed: cheapest arcs per child in the hindsight LP (the bound is evaluated over every arc)", "arcs")

    def __post_init__(self) -> None:
        problems: list[tuple[str, str]] = []  # (English, French)
        if not 1 <= self.months <= 60:
            problems.append((f"months must be 1-60, got {self.months}", f"months doit valoir 1-60, reçu {self.months}"))
        if self.entries_per_child_per_year < 0:
            problems.append((f"entries_per_child_per_year must be >= 0, got {self.entries_per_child_per_year}",
                             f"entries_per_child_per_year doit être >= 0, reçu {self.entries_per_child_per_year}"))
        if set(self.entrant_age_shares) != set(AGE_BANDS):
            problems.append((f"entrant_age_shares needs exactly the bands {', '.join(AGE_BANDS)}",
                             f"entrant_age_shares demande exactement les tranches {', '.join(AGE_BANDS)}"))
        elif any(v < 0 for v in self.entrant_age_shares.values()) or abs(sum(self.entrant_age_shares.values()) - 1) > 1e-6:
            problems.append(("entrant_age_shares must be non-negative and sum to 1",
                             "entrant_age_shares doit être positif ou nul et de somme 1"))
        if set(self.return_home_per_year) != set(AGE_BANDS[:4]):
            problems.append((f"return_home_per_year needs exactly the bands {', '.join(AGE_BANDS[:4])}",
                             f"return_home_per_year demande exactement les tranches {', '.join(AGE_BANDS[:4])}"))
        elif any(v < 0 for v in self.return_home_per_year.values()):
            problems.append(("return_home_per_year rates must be >= 0", "les taux de return_home_per_year doivent être >= 0"))
        for name in ("majority_exit_share", "urgent_share_infant_or_protection", "urgent_share_other"):
            if not 0 <= getattr(self, name) <= 1:
                problems.append((f"{name} must be within 0-1, got {getattr(self, name)}",
                                 f"{name} doit être dans 0-1, reçu {getattr(self, name)}"))
        if self.contract_end_per_year < 0:
            problems.append((f"contract_end_per_year must be >= 0, got {self.contract_end_per_year}",
                             f"contract_end_per_year doit être >= 0, reçu {self.contract_end_per_year}"))
        if not 18 <= self.age_limit_years <= 21:
            problems.append((f"age_limit_years must be 18-21, got {self.age_limit_years}",
                             f"age_limit_years doit valoir 18-21, reçu {self.age_limit_years}"))
        if self.batch_days < 1 or self.price_refresh_days < 1:
            problems.append(("batch_days and price_refresh_days must be at least 1",
                             "batch_days et price_refresh_days doivent valoir au moins 1"))
        if self.batch_time_limit_s <= 0 or self.waiting_day_cost < 0 or self.hindsight_candidates_per_child < 1 \
                or self.hindsight_checkpoint_days < 1 or self.hindsight_slots_per_arc < 1:
            problems.append(("batch_time_limit_s > 0, waiting_day_cost >= 0 and hindsight_candidates_per_child >= 1 are required",
                             "batch_time_limit_s > 0, waiting_day_cost >= 0 et hindsight_candidates_per_child >= 1 "
                             "sont exigés"))
        if problems:
            raise DomainError("simulation parameters: " + "; ".join(en for en, _ in problems),
                              fr="paramètres de simulation : " + " ; ".join(fr for _, fr in problems))

    @property
    def days(self) -> int:
        return round(self.months * 365 / 12)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], base: SimulationParameters | None = None) -> SimulationParameters:
        """Parameters with ``values`` in place of the defaults (or of ``base``'s); an unknown name
        is a DomainError that lists the known ones."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise DomainError(f"unknown simulation parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
                              fr=f"paramètre(s) de simulation inconnu(s) {', '.join(unknown)} ; connus : "
                              f"{', '.join(sorted(known))}")
        return replace(base or cls(), **dict(values))

    @classmethod
    def sources(cls) -> dict[str, dict[str, Any]]:
        """Each parameter's default, unit and source (for the documentation and the report)."""
        out = {}
        for f in fields(cls):
            default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
            out[f.name] = {"default": default, "unit": f.metadata.get("unit", ""), "source": f.metadata.get("source", "")}
        return out

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
