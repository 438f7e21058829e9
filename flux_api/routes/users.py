"""Users of a restaurant: owners invite, list, change and disable them; everyone sees themself.

An invitation is a user created with a first password that the owner chooses and hands over; the
user then changes it with ``POST /v1/users/me/password`` (no e-mail service is needed). Disabling a
user ends their tokens at once: every request re-checks the user (``tenant_transaction``).
``flux_api`` may write e-mail, role, password hash and disabled time of its tenant's users (RLS),
and never reads a password hash: the current password is checked through ``flux.login_lookup``.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Response, status

from flux_api.deps import Allowed, TenantConnection
from flux_api.filters import PageDep, paged
from flux_api.schemas import (
    Page,
    PasswordChange,
    UserCreate,
    UserPublic,
    UserUpdate,
    problem_responses,
)
from flux_api.security import TokenClaims
from flux_core.db.tables import users
from flux_core.users import EmailTaken, create_user, hash_password, verify_password

router = APIRouter(prefix="/v1/users", tags=["users"], responses=problem_responses(401, 403, 422))

_public = [
    users.c.user_id,
    users.c.email,
    users.c.role,
    (users.c.disabled_at.is_not(None)).label("disabled"),
    users.c.created_at,
]
_login_lookup = sa.func.flux.login_lookup


def _one(conn: sa.Connection, user_id: UUID) -> UserPublic:
    row = conn.execute(sa.select(*_public).where(users.c.user_id == user_id)).mappings().first()
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such user")
    return UserPublic.model_validate(dict(row))


@router.get("", response_model=Page[UserPublic])
def list_users(
    user: Annotated[TokenClaims, Allowed("users:manage")], conn: TenantConnection, page: PageDep
) -> Page[UserPublic]:
    rows, total = paged(
        conn, sa.select(*_public).order_by(users.c.created_at, users.c.user_id), page
    )
    return Page[UserPublic](
        items=[UserPublic.model_validate(dict(row)) for row in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UserPublic,
    responses=problem_responses(409),
)
def invite_user(
    invite: UserCreate,
    user: Annotated[TokenClaims, Allowed("users:manage")],
    conn: TenantConnection,
    response: Response,
) -> UserPublic:
    try:
        user_id = create_user(
            conn,
            tenant_id=user.tenant_id,
            email=invite.email,
            role=invite.role,
            password=invite.password.get_secret_value(),
        )
    except EmailTaken as error:  # another tenant's user is invisible here, but the index is not
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
    response.headers["Location"] = f"{router.prefix}/{user_id}"
    return _one(conn, user_id)


@router.get("/me", response_model=UserPublic)
def get_own_user(
    user: Annotated[TokenClaims, Allowed("self")], conn: TenantConnection
) -> UserPublic:
    return _one(conn, user.user_id)


@router.post(
    "/me/password", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(400)
)
def change_own_password(
    change: PasswordChange, user: Annotated[TokenClaims, Allowed("self")], conn: TenantConnection
) -> Response:
    email = conn.execute(sa.select(users.c.email).where(users.c.user_id == user.user_id)).scalar()
    found = _login_lookup(email).table_valued("user_id", "password_hash")
    row = conn.execute(sa.select(found.c.password_hash).where(found.c.user_id == user.user_id))
    current = row.scalar()
    if current is None or not verify_password(change.current_password.get_secret_value(), current):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "the current password is not correct")
    conn.execute(
        sa.update(users)
        .where(users.c.user_id == user.user_id)
        .values(password_hash=hash_password(change.new_password.get_secret_value()))
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{user_id}", response_model=UserPublic, responses=problem_responses(404))
def get_user(
    user_id: UUID, user: Annotated[TokenClaims, Allowed("users:manage")], conn: TenantConnection
) -> UserPublic:
    return _one(conn, user_id)


@router.patch("/{user_id}", response_model=UserPublic, responses=problem_responses(404, 409))
def update_user(
    user_id: UUID,
    change: UserUpdate,
    user: Annotated[TokenClaims, Allowed("users:manage")],
    conn: TenantConnection,
) -> UserPublic:
    # Another tenant's user is invisible under RLS, so the update touches no row: 404.
    current = _one(conn, user_id)
    if user_id == user.user_id and (
        (change.role is not None and change.role != current.role) or change.disabled
    ):
        raise HTTPException(status.HTTP_409_CONFLICT, "owners cannot demote or disable themselves")
    values: dict[str, Any] = {}
    if change.role is not None:
        values["role"] = change.role
    if change.disabled is not None and change.disabled != current.disabled:
        values["disabled_at"] = sa.func.now() if change.disabled else None
    if change.password is not None:
        values["password_hash"] = hash_password(change.password.get_secret_value())
    if values:
        conn.execute(sa.update(users).where(users.c.user_id == user_id).values(**values))
    return _one(conn, user_id)
