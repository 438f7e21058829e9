"""The one user service: roles, the password rule, argon2id hashing, and creating a user.

The API's invitations, ``flux users create`` and the demo all create users here, so a password
that one refuses, the others refuse too (OWASP: at least 12 characters when nothing else is
required, and no composition rules).
"""

from __future__ import annotations

from functools import cache
from typing import Literal, get_args
from uuid import UUID

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from flux_core.db.tables import users

UserRole = Literal["owner", "manager", "chef"]
USER_ROLES: frozenset[str] = frozenset(get_args(UserRole))
PASSWORD_MIN_LENGTH = 12
# argon2 hashes any length, but a megabyte-long password is a way to make the server work.
PASSWORD_MAX_LENGTH = 256

_hasher = PasswordHasher()


class WeakPassword(ValueError):
    """The password breaks the rule; ``str(error)`` says which part, for the person choosing it."""


class EmailTaken(ValueError):
    """E-mail addresses are the login, so they are unique across Flux, not per tenant."""


def password_problem(password: str) -> str | None:
    if len(password) < PASSWORD_MIN_LENGTH:
        return f"the password must have at least {PASSWORD_MIN_LENGTH} characters"
    if len(password) > PASSWORD_MAX_LENGTH:
        return f"the password must have at most {PASSWORD_MAX_LENGTH} characters"
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    return hash_password("flux: no such user")


def burn_password_check(password: str) -> None:
    """Spend the time of a real check when there is no user, so timing does not reveal emails."""
    verify_password(password, _dummy_hash())


def normalized_email(email: str) -> str:
    """Kept as typed, less the spaces around it: sign-in and uniqueness ignore case (the
    ``lower(email)`` index), and mail goes to the address the person gave (RFC 5321 leaves the
    local part's case to the receiving server)."""
    return email.strip()


def create_user(
    conn: sa.Connection, *, tenant_id: UUID, email: str, role: UserRole, password: str
) -> UUID:
    """Inserts the user in ``conn``'s transaction. Raises ``WeakPassword`` or ``EmailTaken``; a
    clash aborts the transaction, as any failed statement in PostgreSQL does."""
    problem = password_problem(password)
    if problem is not None:
        raise WeakPassword(problem)
    if role not in USER_ROLES:
        raise ValueError(f"role must be one of {sorted(USER_ROLES)}, not {role!r}")
    try:
        user_id: UUID = conn.execute(
            sa.insert(users)
            .values(
                tenant_id=tenant_id,
                email=normalized_email(email),
                role=role,
                password_hash=hash_password(password),
            )
            .returning(users.c.user_id)
        ).scalar_one()
    except sa.exc.IntegrityError as error:
        if "email" not in str(error.orig):
            raise
        raise EmailTaken("this e-mail address is already in use") from error
    return user_id
