"""The domain of placement: children, fratries, structures and units, rules and scores."""

from matcher.errors import DomainError, PlacementError
from matcher.model import (
    AgeBand,
    Anchor,
    AnchorKind,
    Child,
    CurrentPlacement,
    Home,
    HomeAbsence,
    JudgeConstraints,
    LegalBasis,
    Location,
    Need,
    Operator,
    Place,
    PlacementSystem,
    School,
    Service,
    Sex,
    SiblingGroup,
    Structure,
    StructureType,
    Unit,
    UnitSex,
    Urgency,
    VisitSite,
    Wish,
    Zone,
)
from matcher.rules import (
    CAPACITY_RULE,
    GROUP_RULES,
    OPTION_RULES,
    Exclusion,
    Option,
    Rule,
    RuleKind,
    exclusions,
    is_eligible,
)
from matcher.scoring import SOFT_RULES, OptionScore, ScoreComponent, Weights, score_option

RULES: tuple[Rule, ...] = OPTION_RULES + (CAPACITY_RULE,) + GROUP_RULES + SOFT_RULES
"""The one catalogue of rules: hard on one option, capacity, group, then soft."""

__all__ = [
    "AgeBand", "Anchor", "AnchorKind", "CAPACITY_RULE", "Child", "CurrentPlacement", "DomainError", "Exclusion",
    "GROUP_RULES", "Home", "HomeAbsence", "JudgeConstraints", "LegalBasis", "Location", "Need", "OPTION_RULES",
    "Operator", "Option", "OptionScore", "PlacementError", "Place", "PlacementSystem", "RULES", "Service", "Rule",
    "RuleKind", "SOFT_RULES", "School", "ScoreComponent", "Sex", "SiblingGroup", "Structure",
    "StructureType", "Unit", "UnitSex", "Urgency", "VisitSite", "Weights", "Wish", "Zone", "exclusions",
    "is_eligible", "score_option",
]
