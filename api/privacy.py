"""No personal data in the logs: the access log's request lines carry pseudonyms (keyed hashes,
``api.security.Security.pseudonym``) instead of child and sibling-group ids, and an error is
logged by its type and where it happened, never by its message (which may quote a child's data).

A filter on uvicorn's access logger rewrites ``/children/ID``, ``/sibling-groups/ID`` and the
``child_id=`` / ``sibling_group_id=`` query parameters before the line is written.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable

ACCESS_LOGGER = "uvicorn.access"
_PATTERN = re.compile(r"(/children/|/sibling-groups/|[?&](?:child_id|sibling_group_id)=)([^/?&#\s]+)")


def pseudonymise_path(path: str, pseudonym: Callable[[str], str]) -> str:
    """``path`` with every child or sibling-group id replaced by its pseudonym."""
    return _PATTERN.sub(lambda m: m.group(1) + pseudonym(m.group(2)), path)


class PseudonymFilter(logging.Filter):
    def __init__(self, pseudonym: Callable[[str], str]):
        super().__init__()
        self.pseudonym = pseudonym

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(pseudonymise_path(a, self.pseudonym) if isinstance(a, str) else a
                                for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = pseudonymise_path(record.msg, self.pseudonym)
        return True


def install_log_filter(pseudonym: Callable[[str], str]) -> PseudonymFilter:
    f = PseudonymFilter(pseudonym)
    logging.getLogger(ACCESS_LOGGER).addFilter(f)
    return f


def remove_log_filter(f: PseudonymFilter) -> None:
    logging.getLogger(ACCESS_LOGGER).removeFilter(f)


def safe_traceback(exc: BaseException) -> str:
    """The error's type and the frames it went through (file, line, function), without its
    message or any value: what a developer needs to find the fault, nothing about a child."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in reversed(frames[-8:]))
    cause = f" (caused by {type(exc.__cause__).__name__})" if exc.__cause__ is not None else ""
    return f"{type(exc).__module__}.{type(exc).__name__}{cause} at {where}"
