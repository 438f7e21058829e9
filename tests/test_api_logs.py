"""One JSON log line per request, with what an operator needs and nothing a thief would want."""

from __future__ import annotations

import json

import pytest
from api_fixtures import PASSWORD, MakeMember
from fastapi.testclient import TestClient

SECRET_CONTENT = b"date,sales\n2025-01-01,777123.45\n"


def test_request_logs_are_json_with_id_tenant_route_status_latency_and_no_secrets(
    client: TestClient, make_tenant, make_member: MakeMember, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    member = make_member(make_tenant(), "owner")
    capsys.readouterr()
    login = client.post("/v1/auth/token", data={"username": member.email, "password": PASSWORD})
    token = login.json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "X-Request-ID": "dashboard-42.a"}
    listed = client.get("/v1/uploads?limit=5", headers=headers)
    assert listed.headers["x-request-id"] == "dashboard-42.a"
    sent = client.post(
        "/v1/uploads", headers=headers, files={"file": ("s.csv", SECRET_CONTENT, "text/csv")}
    )
    assert sent.status_code == 201
    refused = client.get(
        "/v1/uploads/not-a-uuid", headers={**headers, "X-Request-ID": "bad id\nforged"}
    )
    assert refused.status_code == 422
    made_up = refused.headers["x-request-id"]
    assert made_up != "bad id\nforged" and len(made_up) == 32
    client.post("/v1/auth/token", data={"username": member.email, "password": "wrong password"})

    output = capsys.readouterr().out
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line["event"] == "request"]
    assert [(r["method"], r["route"], r["status"]) for r in requests] == [
        ("POST", "/v1/auth/token", 200),
        ("GET", "/v1/uploads", 200),
        ("POST", "/v1/uploads", 201),
        ("GET", "/v1/uploads/{upload_id}", 422),
        ("POST", "/v1/auth/token", 401),
    ]
    assert [r["request_id"] for r in requests[1:4]] == ["dashboard-42.a", "dashboard-42.a", made_up]
    assert {r["tenant_id"] for r in requests[1:4]} == {str(member.tenant_id)}
    assert requests[0]["tenant_id"] is None
    assert all(isinstance(r["latency_ms"], float) and r["latency_ms"] >= 0 for r in requests)
    for secret in (token, token.split(".")[2], PASSWORD, "wrong password", "777123.45"):
        assert secret not in output
