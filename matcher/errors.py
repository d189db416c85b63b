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
    name in ``matcher.RULES``, the children, the reason); ``rules`` the names of the rules broken.
    ``context_fr``: the context in French. In French the rules are named by their labels and the
    children by their ids; the reasons, in English, stay in the log."""

    def __init__(self, context: str, found: list, context_fr: str | None = None) -> None:
        self.context = context
        self.context_fr = context_fr
        self.found = list(found)
        self.rules = sorted({getattr(v, "rule", "") for v in self.found} - {""})
        shown = "; ".join(str(v) for v in self.found[:5])
        more = f" (and {len(self.found) - 5} more)" if len(self.found) > 5 else ""
        super().__init__(f"{context}: the answer breaks a hard rule, so it is not returned: {shown}{more}")

    def said(self, lang: str) -> str:
        if lang != "fr":
            return str(self)
        from matcher.words import rule_label

        def label(rule: str) -> str:
            words = rule_label(rule, rule, "fr")
            return words[:1].lower() + words[1:]

        def named(v) -> str:
            unit = f", unité {v.unit_id}" if getattr(v, "unit_id", None) else ""
            return f"{label(v.rule)} ({'enfant' if len(v.child_ids) == 1 else 'enfants'} {', '.join(v.child_ids)}{unit})"

        each = list(dict.fromkeys(named(v) for v in self.found))  # the same rule and children once
        shown = " ; ".join(each[:5])
        more = f" (et {len(each) - 5} de plus)" if len(each) > 5 else ""
        where = f"{self.context_fr} : " if self.context_fr else ""
        return (f"{where}la réponse enfreint une règle stricte, elle n'est donc pas rendue : {shown}{more}. "
                "L'erreur a été consignée.")
