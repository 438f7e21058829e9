"""What a restaurant tells Flux about coming days: closures (zero at once, out of the scores),
events and promotions, and the numbers its owners and managers set beside the model's."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa
from api_fixtures import MakeMember, Member
from fastapi.testclient import TestClient

from flux_core.db.tables import forecasts, model_versions, staged_sales, uploads

TODAY = dt.date.today()
DAYS = [TODAY + dt.timedelta(days=i) for i in range(1, 8)]


@pytest.fixture
def restaurant(
    pipeline_engine: sa.Engine, make_tenant, make_member: MakeMember
) -> tuple[Member, Member]:  # type: ignore[no-untyped-def]
    """A manager and a chef of a restaurant with a forecast of sales for the coming week."""
    tenant = make_tenant()
    with pipeline_engine.begin() as conn:
        conn.execute(
            sa.insert(model_versions).values(
                tenant_id=tenant,
                metric="sales",
                version=1,
                model_name=f"flux-{tenant}-sales",
                model_kind="xgboost",
                is_champion=True,
            )
        )
        conn.execute(
            sa.insert(forecasts),
            [
                {"tenant_id": tenant, "metric": "sales", "date": day, "model_version": 1}
                | {"p10": 80.0 + i, "p50": 100.0 + i, "p90": 120.0 + i}
                for i, day in enumerate(DAYS)
            ],
        )
    return make_member(tenant, "manager"), make_member(tenant, "chef")


def _points(client: TestClient, member: Member) -> dict[str, dict[str, object]]:
    response = client.get("/v1/forecasts", headers=member.headers)
    assert response.status_code == 200, response.text
    return {point["date"]: point for point in response.json()["items"]}


def test_a_closure_reads_as_zero_at_once_and_an_event_does_not(
    client: TestClient, restaurant: tuple[Member, Member]
) -> None:
    manager, chef = restaurant
    closed = DAYS[2].isoformat()
    told = client.post(
        "/v1/calendar/days",
        json={"date": closed, "kind": "closed", "note": "  staff outing "},
        headers=manager.headers,
    )
    assert told.status_code == 201, told.text
    day = told.json()
    assert told.headers["Location"] == f"/v1/calendar/days/{day['day_id']}"
    assert (day["date"], day["kind"], day["note"]) == (closed, "closed", "staff outing")

    # Every role sees it: the chef's forecast is zero that day, the other days are the model's.
    points = _points(client, chef)
    assert (points[closed]["p10"], points[closed]["p50"], points[closed]["p90"]) == (0, 0, 0)
    assert points[closed]["closed"] is True
    assert {d: p["p50"] for d, p in points.items() if d != closed} == {
        d.isoformat(): 100.0 + i for i, d in enumerate(DAYS) if d.isoformat() != closed
    }
    calendar = client.get(
        "/v1/calendar", params={"start": closed, "end": closed}, headers=chef.headers
    )
    assert {"date": closed, "kind": "closed", "name": "staff outing"} in calendar.json()

    # The same day and kind twice is a conflict; a chef may not tell days.
    again = client.post(
        "/v1/calendar/days", json={"date": closed, "kind": "closed"}, headers=manager.headers
    )
    assert again.status_code == 409, again.text
    assert closed in again.json()["detail"]
    refused = client.post(
        "/v1/calendar/days", json={"date": closed, "kind": "event"}, headers=chef.headers
    )
    assert refused.status_code == 403

    # Turned into an event, it is the model's number again (a flag for the next training).
    changed = client.patch(
        f"/v1/calendar/days/{day['day_id']}",
        json={"kind": "event", "note": "street fair"},
        headers=manager.headers,
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["kind"], changed.json()["note"]) == ("event", "street fair")
    assert _points(client, chef)[closed]["p50"] == 102.0
    assert _points(client, chef)[closed]["closed"] is False

    gone = client.delete(f"/v1/calendar/days/{day['day_id']}", headers=manager.headers)
    assert gone.status_code == 204
    assert client.get("/v1/calendar/days", headers=chef.headers).json() == []
    again_gone = client.delete(f"/v1/calendar/days/{day['day_id']}", headers=manager.headers)
    assert again_gone.status_code == 404


@pytest.mark.parametrize("day", ["1989-12-31", (TODAY + dt.timedelta(days=4 * 366)).isoformat()])
def test_a_day_far_out_of_any_forecast_is_refused(
    client: TestClient, restaurant: tuple[Member, Member], day: str
) -> None:
    manager, _ = restaurant
    response = client.post(
        "/v1/calendar/days", json={"date": day, "kind": "closed"}, headers=manager.headers
    )
    assert response.status_code == 422
    assert day in response.json()["detail"]


def test_a_number_set_comes_beside_the_models_and_both_are_scored(
    client: TestClient, pipeline_engine: sa.Engine, restaurant: tuple[Member, Member]
) -> None:
    manager, chef = restaurant
    tenant = manager.tenant_id
    # Day 0: the manager expects more (a party); day 1: less; day 2 they set, then it closes.
    wanted = {DAYS[0]: 150.0, DAYS[1]: 60.0, DAYS[2]: 90.0}
    for day, value in wanted.items():
        set_ = client.put(
            f"/v1/forecasts/adjustments/sales/{day}",
            json={"value": value, "reason": f"know better on {day}"},
            headers=manager.headers,
        )
        assert set_.status_code == 200, set_.text
        assert set_.json()["model_p50"] == 100.0 + DAYS.index(day)
        assert set_.json()["set_by"] == manager.email
    # Set again, the number changes; there is still one per day.
    again = client.put(
        f"/v1/forecasts/adjustments/sales/{DAYS[0]}",
        json={"value": 140.0, "reason": "a party of forty"},
        headers=manager.headers,
    )
    assert (again.json()["value"], again.json()["reason"]) == (140.0, "a party of forty")
    wanted[DAYS[0]] = 140.0

    points = _points(client, chef)  # the chef reads both numbers, the model's unchanged
    assert points[DAYS[0].isoformat()]["p50"] == 100.0
    assert points[DAYS[0].isoformat()]["adjusted_p50"] == 140.0
    assert points[DAYS[0].isoformat()]["adjustment_reason"] == "a party of forty"
    assert points[DAYS[3].isoformat()]["adjusted_p50"] is None
    assert chef_cannot_adjust(client, chef)

    # The days pass: their actuals load, and DAYS[2] turned out closed (out of the score).
    actual = {DAYS[0]: 135.0, DAYS[1]: 95.0, DAYS[2]: 1.0}
    with pipeline_engine.begin() as conn:
        upload_id = uuid.uuid4()
        conn.execute(
            sa.insert(uploads).values(
                upload_id=upload_id,
                tenant_id=tenant,
                object_key=f"t/{upload_id}",
                filename="later.csv",
                status="loaded",
            )
        )
        conn.execute(
            sa.insert(staged_sales),
            [
                {"tenant_id": tenant, "metric": "sales", "date": d, "value": v}
                | {"upload_id": upload_id}
                for d, v in actual.items()
            ],
        )
    closure = client.post(
        "/v1/calendar/days", json={"date": str(DAYS[2]), "kind": "closed"}, headers=manager.headers
    )
    assert closure.status_code == 201
    listed = client.get("/v1/forecasts/adjustments", headers=manager.headers).json()
    assert [(x["date"], x["value"], x["actual"]) for x in listed] == [
        (str(d), wanted[d], actual[d]) for d in DAYS[:3]
    ]
    [score] = client.get("/v1/forecasts/adjustments/accuracy", headers=manager.headers).json()
    scored = DAYS[:2]
    total = sum(actual[d] for d in scored)
    model_error = sum(abs(100.0 + DAYS.index(d) - actual[d]) for d in scored)
    adjusted_error = sum(abs(wanted[d] - actual[d]) for d in scored)
    assert score == {
        "metric": "sales",
        "days": 2,
        "model_wape": pytest.approx(model_error / total),
        "adjusted_wape": pytest.approx(adjusted_error / total),
        "days_closer": 1,  # the party was right; the quiet day was not
    }

    # A day whose actual is in, or a day past, takes no number of its own.
    known = client.put(
        f"/v1/forecasts/adjustments/sales/{DAYS[0]}",
        json={"value": 1.0, "reason": "hindsight"},
        headers=manager.headers,
    )
    assert known.status_code == 409, known.text
    past = TODAY - dt.timedelta(days=3)
    late = client.put(
        f"/v1/forecasts/adjustments/sales/{past}",
        json={"value": 1.0, "reason": "hindsight"},
        headers=manager.headers,
    )
    assert late.status_code == 422 and str(past) in late.json()["detail"]

    removed = client.delete(f"/v1/forecasts/adjustments/sales/{DAYS[1]}", headers=manager.headers)
    assert removed.status_code == 204
    assert _points(client, chef)[DAYS[1].isoformat()]["adjusted_p50"] is None


def chef_cannot_adjust(client: TestClient, chef: Member) -> bool:
    response = client.put(
        f"/v1/forecasts/adjustments/sales/{DAYS[4]}",
        json={"value": 1.0, "reason": "a chef's hunch"},
        headers=chef.headers,
    )
    return response.status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"value": -1, "reason": "negative"},
        {"value": 10, "reason": "   "},
        {"value": 10, "reason": "x" * 501},
        {"value": 10},
        {"value": 10, "reason": "ok", "model_p50": 3},
    ],
)
def test_a_number_without_a_reason_or_below_zero_is_refused(
    client: TestClient, restaurant: tuple[Member, Member], body: dict[str, object]
) -> None:
    manager, _ = restaurant
    response = client.put(
        f"/v1/forecasts/adjustments/sales/{DAYS[0]}", json=body, headers=manager.headers
    )
    assert response.status_code == 422, response.text
    assert client.get("/v1/forecasts/adjustments", headers=manager.headers).json() == []
