"""Passwords, tokens and pseudonyms: the one module that knows Argon2 and JWT.

- Passwords are hashed with Argon2id (argon2-cffi); a sign-in for an unknown user is checked
  against a dummy hash so that timing tells nothing; a hash made with older parameters is
  renewed at the next sign-in.
- Access tokens are short-lived JWTs signed with HS256: only ``sub`` (the user id, a string),
  ``tv`` (the account's token version: a reset or a disable ends every older token), ``iat``
  and ``exp``; decoded with a fixed algorithm list and required claims. Refresh tokens are
  random strings the store keeps as digests, used once each.
- Pseudonyms: a keyed hash (HMAC-SHA-256) of a child id, for logs and for planners.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jwt
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from api.settings import Settings
from matcher.errors import PlacementError

ALGORITHM = "HS256"
KEY_FILE = "secret.key"
MIN_PASSWORD_LENGTH = 12


class PasswordPolicyError(PlacementError, ValueError):
    """A new password too weak to accept."""


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"a password has at least {MIN_PASSWORD_LENGTH} characters",
                                  fr=f"un mot de passe a au moins {MIN_PASSWORD_LENGTH} caractères")
    if len(set(password)) < 5:
        raise PasswordPolicyError("a password has at least 5 different characters",
                                  fr="un mot de passe a au moins 5 caractères différents")


def signing_key(settings: Settings) -> str:
    """The key from the settings, or the one in ``data_dir/secret.key``, generated on first use."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.data_dir) / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48))
    key = path.read_text().strip()
    if len(key) < 32:
        raise ValueError(f"the signing key in {path} is too short (at least 32 characters)")
    return key


def password_hasher(settings: Settings) -> PasswordHasher:
    """Argon2id with the settings' parameters (argon2-cffi's RFC 9106 low-memory profile by default)."""
    return PasswordHasher(time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib,
                          parallelism=settings.argon2_parallelism, type=Type.ID)


def hash_new_password(settings: Settings, password: str) -> str:
    """The hash of a new password, after the policy check (PasswordPolicyError)."""
    check_password_policy(password)
    return password_hasher(settings).hash(password)


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    token_version: int


class InvalidToken(Exception):
    """A token that is malformed, badly signed, expired or of the wrong kind."""


class Security:
    """Hashing, tokens and pseudonyms for one app (its key and parameters)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._key = signing_key(settings)
        self.hasher = password_hasher(settings)
        self._dummy = self.hasher.hash(secrets.token_urlsafe(16))
        self._pseudonym_key = hmac.new(self._key.encode(), b"pseudonym", hashlib.sha256).digest()

    # --- passwords ---------------------------------------------------------------------------

    def hash_password(self, password: str) -> str:
        check_password_policy(password)
        return self.hasher.hash(password)

    def verify_password(self, password_hash: str | None, password: str) -> tuple[bool, str | None]:
        """(matches, a renewed hash when the parameters changed). ``None`` hash: an unknown user,
        checked against the dummy hash all the same."""
        try:
            self.hasher.verify(password_hash or self._dummy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False, None
        if password_hash is None:
            return False, None
        renewed = self.hasher.hash(password) if self.hasher.check_needs_rehash(password_hash) else None
        return True, renewed

    # --- tokens ------------------------------------------------------------------------------

    def access_token(self, user_id: int, token_version: int, now: datetime | None = None) -> tuple[str, int]:
        """(token, lifetime in seconds)."""
        now = now or datetime.now(timezone.utc)
        lifetime = timedelta(minutes=self.settings.access_token_minutes)
        claims = {"sub": str(user_id), "tv": token_version, "iat": now, "exp": now + lifetime}
        return jwt.encode(claims, self._key, algorithm=ALGORITHM), int(lifetime.total_seconds())

    def decode_access(self, token: str) -> AccessClaims:
        try:
            claims = jwt.decode(token, self._key, algorithms=[ALGORITHM],
                                options={"require": ["sub", "exp", "iat", "tv"]})
            return AccessClaims(int(claims["sub"]), int(claims["tv"]))
        except (jwt.PyJWTError, ValueError, TypeError) as err:
            raise InvalidToken(str(err)) from None

    def refresh_token(self) -> str:
        return secrets.token_urlsafe(32)

    def refresh_lifetime(self) -> timedelta:
        return timedelta(hours=self.settings.refresh_token_hours)

    # --- pseudonyms --------------------------------------------------------------------------

    def pseudonym(self, child_id: str) -> str:
        """A stable keyed hash of a child id (``P-`` and 16 hex digits): the same child gives
        the same pseudonym on this server; the id cannot be recovered without the key."""
        return "P-" + hmac.new(self._pseudonym_key, child_id.encode(), hashlib.sha256).hexdigest()[:16]
