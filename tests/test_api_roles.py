"""Roles on every endpoint, and owners managing their restaurant's users."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from api_fixtures import PASSWORD, MakeMember, Member, operations
from fastapi.testclient import TestClient

from flux_api.main import create_app
from flux_core.settings import FluxSettings
from flux_core.users import UserRole

ALL: frozenset[UserRole] = frozenset({"owner", "manager", "chef"})
STAFF: frozenset[UserRole] = frozenset({"owner", "manager"})
OWNER: frozenset[UserRole] = frozenset({"owner"})

# The table of DESIGN.md and flux_api.permissions, written out again on purpose: a change to either
# side without the other fails here.
ROLE_MATRIX: dict[tuple[str, str], frozenset[UserRole]] = {
    ("GET", "/v1/tenant"): ALL,
    ("GET", "/v1/forecasts"): ALL,
    ("GET", "/v1/calendar"): ALL,
    ("GET", "/v1/calendar/days"): ALL,
    ("POST", "/v1/calendar/days"): STAFF,
    ("PATCH", "/v1/calendar/days/{day_id}"): STAFF,
    ("DELETE", "/v1/calendar/days/{day_id}"): STAFF,
    ("GET", "/v1/forecasts/adjustments"): STAFF,
    ("GET", "/v1/forecasts/adjustments/accuracy"): STAFF,
    ("PUT", "/v1/forecasts/adjustments/{metric}/{day}"): STAFF,
    ("DELETE", "/v1/forecasts/adjustments/{metric}/{day}"): STAFF,
    ("GET", "/v1/forecasts/with-actuals"): STAFF,
    ("GET", "/v1/sales/daily"): STAFF,
    ("GET", "/v1/models/current"): STAFF,
    ("GET", "/v1/accuracy"): STAFF,
    ("GET", "/v1/uploads"): STAFF,
    ("POST", "/v1/uploads"): STAFF,
    ("GET", "/v1/uploads/{upload_id}"): STAFF,
    ("GET", "/v1/uploads/{upload_id}/rejections.csv"): STAFF,
    ("GET", "/v1/users"): OWNER,
    ("POST", "/v1/users"): OWNER,
    ("GET", "/v1/users/me"): ALL,
    ("POST", "/v1/users/me/password"): ALL,
    ("GET", "/v1/users/{user_id}"): OWNER,
    ("PATCH", "/v1/users/{user_id}"): OWNER,
}
PUBLIC = {("GET", "/healthz"), ("GET", "/readyz"), ("POST", "/v1/auth/token")}


def _call(client: TestClient, method: str, path: str, member: Member) -> httpx.Response:
    """A well-formed request to the route, as ``member``, on ``member``'s own objects."""
    path = (
        path.replace("{user_id}", str(member.user_id))
        .replace("{upload_id}", str(uuid.uuid4()))
        .replace("{day_id}", str(uuid.uuid4()))
        .replace("{metric}/{day}", f"sales/{date.today() + timedelta(days=3)}")
    )
    kwargs: dict[str, Any] = {}
    if (method, path) == ("POST", "/v1/uploads"):
        kwargs["files"] = {"file": ("sales.csv", b"date,sales\n2025-01-01,10\n", "text/csv")}
    elif (method, path) == ("POST", "/v1/users"):
        kwargs["json"] = {
            "email": f"new-{uuid.uuid4().hex[:8]}@example.com",
            "role": "chef",
            "password": "a long enough first password",
        }
    elif (method, path) == ("POST", "/v1/users/me/password"):
        kwargs["json"] = {"current_password": "wrong", "new_password": "another long password"}
    elif (method, path) == ("POST", "/v1/calendar/days"):
        kwargs["json"] = {"date": str(date.today()), "kind": "event", "note": "a wedding"}
    elif method == "PUT":
        kwargs["json"] = {"value": 120, "reason": "a party of forty"}
    elif method == "PATCH":
        kwargs["json"] = {}
    return client.request(method, path, headers=member.headers, **kwargs)


def test_every_endpoint_is_in_the_role_matrix(settings: FluxSettings) -> None:
    assert operations(create_app(settings)) == set(ROLE_MATRIX) | PUBLIC


@pytest.mark.parametrize("role", sorted(ALL))
def test_role_matrix(
    role: UserRole, client: TestClient, make_tenant, make_member: MakeMember
) -> None:  # type: ignore[no-untyped-def]
    member = make_member(make_tenant(), role)
    for (method, path), allowed in ROLE_MATRIX.items():
        response = _call(client, method, path, member)
        if role in allowed:
            assert response.status_code not in (401, 403), (method, path, response.text)
            assert response.status_code < 500, (method, path, response.text)
        else:
            assert response.status_code == 403, (method, path, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")


def test_every_non_public_endpoint_needs_a_token(client: TestClient) -> None:
    for method, path in ROLE_MATRIX:
        some_id = str(uuid.uuid4())
        response = client.request(
            method, path.replace("{user_id}", some_id).replace("{upload_id}", some_id)
        )
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"] == "Bearer"
    assert client.get("/healthz").status_code == 200


def _login(client: TestClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return client.post("/v1/auth/token", data={"username": email, "password": password})


def _bearer(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_owner_invites_changes_and_disables_a_user(
    client: TestClient, make_tenant, make_member: MakeMember
) -> None:  # type: ignore[no-untyped-def]
    owner = make_member(make_tenant(), "owner")
    email, first_password = f"Manager-{uuid.uuid4().hex[:8]}@Example.com", "first password, 16+"
    invited = client.post(
        "/v1/users",
        headers=owner.headers,
        json={"email": email, "role": "manager", "password": first_password},
    )
    assert invited.status_code == 201, invited.text
    body = invited.json()
    assert set(body) == {"user_id", "email", "role", "disabled", "created_at"}
    assert (body["email"], body["role"], body["disabled"]) == (email, "manager", False)
    assert first_password not in invited.text
    user_path = f"/v1/users/{body['user_id']}"
    assert invited.headers["location"] == user_path

    manager = _bearer(_login(client, email.lower(), first_password))
    assert client.get("/v1/uploads", headers=manager).status_code == 200
    listed = client.get("/v1/users", headers=owner.headers).json()
    assert listed["total"] == 2
    assert {u["email"] for u in listed["items"]} == {owner.email, email}

    # A changed role ends the tokens that carry the old one.
    assert client.patch(user_path, headers=owner.headers, json={"role": "chef"}).json()["role"] == (
        "chef"
    )
    assert client.get("/v1/uploads", headers=manager).status_code == 401
    chef = _bearer(_login(client, email, first_password))
    assert client.get("/v1/uploads", headers=chef).status_code == 403
    assert client.get("/v1/forecasts", headers=chef).status_code == 200

    # Disabling ends every token at once, and login.
    disabled = client.patch(user_path, headers=owner.headers, json={"disabled": True})
    assert disabled.json()["disabled"] is True
    assert client.get("/v1/forecasts", headers=chef).status_code == 401
    assert _login(client, email, first_password).status_code == 401
    client.patch(user_path, headers=owner.headers, json={"disabled": False})
    assert client.get("/v1/forecasts", headers=_bearer(_login(client, email, first_password)))


def test_owner_cannot_lock_themself_out(client: TestClient, make_tenant, make_member) -> None:  # type: ignore[no-untyped-def]
    owner = make_member(make_tenant(), "owner")
    path = f"/v1/users/{owner.user_id}"
    for change in ({"role": "manager"}, {"disabled": True}):
        response = client.patch(path, headers=owner.headers, json=change)
        assert response.status_code == 409, change
    assert client.get("/v1/users/me", headers=owner.headers).json()["role"] == "owner"


def test_invitations_refuse_taken_addresses_and_weak_passwords(
    client: TestClient, make_tenant, make_member: MakeMember
) -> None:  # type: ignore[no-untyped-def]
    owner = make_member(make_tenant(), "owner")
    elsewhere = make_member(make_tenant(), "chef")
    taken = client.post(
        "/v1/users",
        headers=owner.headers,
        json={"email": elsewhere.email.upper(), "role": "chef", "password": "long enough password"},
    )
    assert taken.status_code == 409
    assert str(elsewhere.tenant_id) not in taken.text and str(elsewhere.user_id) not in taken.text
    weak = client.post(
        "/v1/users",
        headers=owner.headers,
        json={"email": "short@example.com", "role": "chef", "password": "hunter2"},
    )
    assert weak.status_code == 422
    assert "hunter2" not in weak.text
    bad_role = client.post(
        "/v1/users",
        headers=owner.headers,
        json={"email": "x@example.com", "role": "admin", "password": "long enough password"},
    )
    assert bad_role.status_code == 422


def test_a_user_changes_their_own_password(
    client: TestClient, make_tenant, make_member: MakeMember
) -> None:  # type: ignore[no-untyped-def]
    chef = make_member(make_tenant(), "chef")
    new = "a brand new password"
    wrong = client.post(
        "/v1/users/me/password",
        headers=chef.headers,
        json={"current_password": "not it", "new_password": new},
    )
    assert wrong.status_code == 400
    changed = client.post(
        "/v1/users/me/password",
        headers=chef.headers,
        json={"current_password": PASSWORD, "new_password": new},
    )
    assert changed.status_code == 204, changed.text
    assert _login(client, chef.email, PASSWORD).status_code == 401
    assert _login(client, chef.email, new).status_code == 200


def test_flux_api_writes_users_but_never_reads_a_password_hash(
    api_engine: sa.Engine, make_tenant, make_member: MakeMember
) -> None:  # type: ignore[no-untyped-def]
    member = make_member(make_tenant(), "owner")
    with api_engine.connect() as conn:
        privileges = conn.execute(
            sa.text(
                "select has_column_privilege('flux.users', 'password_hash', 'select'),"
                " has_column_privilege('flux.users', 'password_hash', 'update'),"
                " has_table_privilege('flux.users', 'delete')"
            )
        ).one()
        assert tuple(privileges) == (False, True, False)
        conn.rollback()
        with conn.begin():
            conn.execute(
                sa.select(sa.func.set_config("app.tenant_id", str(member.tenant_id), True))
            )
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                conn.execute(sa.text("select password_hash from flux.users"))
