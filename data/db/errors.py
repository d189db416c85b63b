"""Errors of the placement store: what the API turns into 404 and 409 answers."""

from __future__ import annotations

from matcher.errors import PlacementError


class StoreError(PlacementError):
    """Base of the store's errors."""


class StoreUnavailableError(StoreError):
    """The database URL is malformed or names a database that cannot be reached."""


class NotFoundError(StoreError):
    """An id that names nothing in the store (a 404 for the API)."""


class ConflictError(StoreError):
    """The request is valid but clashes with the state of the store: a full unit, a hold that
    expired, a capacity below what is already taken (a 409 for the API)."""


class EmptyStoreError(StoreError):
    """The store holds no placement system yet (run ``save_system`` or ``placement serve``)."""
