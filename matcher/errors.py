"""Errors of the domain. Each message names what is wrong in words an officer understands."""


class PlacementError(Exception):
    """Base of every error the engine raises on purpose. Its message is English; ``fr``, where
    given, is the same sentence in French, which :meth:`said` returns to a French reader (the
    pages, the API under ``Accept-Language: fr``, the command line under ``--lang fr``)."""

    def __init__(self, *args: object, fr: str | None = None) -> None:
        super().__init__(*args)
        self.fr = fr

    def said(self, lang: str) -> str:
        """The message in ``lang`` (``"fr"`` or ``"en"``): the English one where no French was given."""
        return self.fr if lang == "fr" and self.fr else str(self)


class DomainError(PlacementError, ValueError):
    """A value that cannot exist in the placement system (an impossible age, a negative capacity...)."""


class HardRuleViolation(PlacementError):
    """An answer about to leave the engine (a solve, a proposal, a plan, a scenario's solution,
    a simulation step) breaks a hard rule. It is an error, logged and reported, never returned
    as a result. ``found`` lists each violation (a :class:`matcher.rules.Violation`: the rule's
    name in ``matcher.RULES``, the children, the reason); ``rules`` the names of the rules broken."""

    def __init__(self, context: str, found: list) -> None:
        self.context = context
        self.found = list(found)
        self.rules = sorted({getattr(v, "rule", "") for v in self.found} - {""})
        shown = "; ".join(str(v) for v in self.found[:5])
        more = f" (and {len(self.found) - 5} more)" if len(self.found) > 5 else ""
        super().__init__(f"{context}: the answer breaks a hard rule, so it is not returned: {shown}{more}")
