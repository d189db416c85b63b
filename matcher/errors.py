"""Errors of the domain. Each message names what is wrong in words an officer understands."""


class PlacementError(Exception):
    """Base of every error the engine raises on purpose."""


class DomainError(PlacementError, ValueError):
    """A value that cannot exist in the placement system (an impossible age, a negative capacity...)."""
