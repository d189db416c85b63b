"""CLI commands, one module per area; each exposes ``register(app)``."""

from __future__ import annotations


def error_line(err: BaseException, lang: str = "en") -> str:
    """The line a command prints for an error, in ``lang``: ``erreur : ...`` or ``error: ...``,
    with the engine's own words in that language where it has them."""
    from matcher.errors import PlacementError

    said = err.said(lang) if isinstance(err, PlacementError) else str(err)
    return f"erreur : {said}" if lang == "fr" else f"error: {said}"
