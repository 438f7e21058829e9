"""The upload API's ingestion side: explicit column mappings, corrections in the detail, and the
full rejection report as CSV (streamed, spreadsheet-safe, RLS-scoped)."""

from __future__ import annotations

import csv
import io
import json
import uuid

import pytest
import sqlalchemy as sa
from api_fixtures import MakeMember
from fastapi.testclient import TestClient

from flux_core.db.tables import uploads
from flux_core.ingest.loader import load_upload
from flux_core.landing import landing_zone
from flux_core.settings import FluxSettings

UNRECOGNISED = b"Tag;Einnahmen\n01.03.2025;100,50\n02.03.2025;200,00\n"
# Five bad lines, three of whose cells would run as formulas in a spreadsheet.
WITH_BAD_LINES = (
    b"date,sales,covers\n"
    b"2025-01-01,10,1\n"
    b'=HYPERLINK("http://evil"),5,1\n'
    b"2025-01-03,+SUM(A1),2\n"
    b"2025-01-04,-5,3\n"
    b"2025-01-05,@cmd,4\n"
    b"2025-01-06,12,1,extra\n"
    b"2025-01-07,13,2\n"
)


def _send(
    client: TestClient, headers: dict[str, str], content: bytes, mapping: str | None = None
) -> tuple[int, dict]:  # type: ignore[type-arg]
    data = {"column_mapping": mapping} if mapping is not None else None
    response = client.post(
        "/v1/uploads",
        headers=headers,
        files={"file": ("sales.csv", content, "text/csv")},
        data=data,
    )
    return response.status_code, response.json()


def test_an_upload_with_a_column_mapping_is_stored_with_it_and_loads(
    client: TestClient,
    settings: FluxSettings,
    pipeline_engine: sa.Engine,
    make_tenant,
    make_member: MakeMember,
) -> None:  # type: ignore[no-untyped-def]
    owner = make_member(make_tenant())
    mapping = {"date": "Tag", "sales": "Einnahmen"}
    code, body = _send(client, owner.headers, UNRECOGNISED, json.dumps(mapping))
    assert code == 201, body
    upload_id = uuid.UUID(body["upload_id"])

    outcome = load_upload(pipeline_engine, landing_zone(settings), upload_id)
    assert (outcome.status, outcome.rows_loaded) == ("loaded", 2)
    detail = client.get(f"/v1/uploads/{upload_id}", headers=owner.headers).json()
    assert detail["column_mapping"] == mapping
    assert (detail["status"], detail["date_min"], detail["date_max"]) == (
        "loaded",
        "2025-03-01",
        "2025-03-02",
    )


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_a_utf16_export_sent_to_the_api_loads(
    codec: str,
    client: TestClient,
    settings: FluxSettings,
    pipeline_engine: sa.Engine,
    make_tenant,
    make_member: MakeMember,
) -> None:  # type: ignore[no-untyped-def]
    """What a spreadsheet writes as "Unicode text": a byte-order mark, tabs, CRLF, a euro sign."""
    owner = make_member(make_tenant())
    text = "\ufeffDate\tSales €\tCovers\r\n2025-03-01\t1.234,50\t50\r\n2025-03-02\t987,00\t41\r\n"
    code, body = _send(client, owner.headers, text.encode(codec))
    assert code == 201, body
    upload_id = uuid.UUID(body["upload_id"])

    outcome = load_upload(pipeline_engine, landing_zone(settings), upload_id)
    assert (outcome.status, outcome.rows_loaded, outcome.rows_rejected) == ("loaded", 2, 0)
    detail = client.get(f"/v1/uploads/{upload_id}", headers=owner.headers).json()
    assert (detail["date_min"], detail["date_max"]) == ("2025-03-01", "2025-03-02")


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ("{not json", "'column_mapping' is not valid JSON"),
        ('{"date": "Tag", "turnover": "Einnahmen"}', "'turnover', which we do not use"),
        ('{"sales": "Einnahmen"}', "which column holds the date"),
        ('["date", "Tag"]', "must be a JSON object"),
    ],
)
def test_a_bad_column_mapping_is_422_and_stores_nothing(
    mapping: str,
    message: str,
    client: TestClient,
    pipeline_engine: sa.Engine,
    make_tenant,
    make_member: MakeMember,
) -> None:  # type: ignore[no-untyped-def]
    tenant = make_tenant()
    owner = make_member(tenant)
    code, body = _send(client, owner.headers, UNRECOGNISED, mapping)
    assert code == 422
    assert message in body["detail"]
    with pipeline_engine.connect() as conn:
        stored = conn.execute(
            sa.select(sa.func.count()).select_from(uploads).where(uploads.c.tenant_id == tenant)
        ).scalar_one()
    assert stored == 0


def test_the_detail_says_which_uploads_a_correction_replaced(
    client: TestClient,
    settings: FluxSettings,
    pipeline_engine: sa.Engine,
    make_tenant,
    make_member: MakeMember,
) -> None:  # type: ignore[no-untyped-def]
    owner = make_member(make_tenant())
    zone = landing_zone(settings)
    _, first = _send(client, owner.headers, b"date,sales\n2025-03-01,1\n2025-03-02,2\n")
    _, fix = _send(client, owner.headers, b"date,sales\n2025-03-02,20\n2025-03-03,3\n")
    for sent in (first, fix):
        load_upload(pipeline_engine, zone, uuid.UUID(sent["upload_id"]))

    before = client.get(f"/v1/uploads/{first['upload_id']}", headers=owner.headers).json()
    after = client.get(f"/v1/uploads/{fix['upload_id']}", headers=owner.headers).json()
    assert (before["days_replaced"], before["replaced_uploads"]) == (0, [])
    assert (after["days_replaced"], after["replaced_uploads"]) == (1, [first["upload_id"]])
    assert after["warnings"] == [] and after["column_mapping"] is None


def test_the_rejection_report_downloads_whole_as_spreadsheet_safe_csv(
    client: TestClient,
    settings: FluxSettings,
    pipeline_engine: sa.Engine,
    make_tenant,
    make_member: MakeMember,
) -> None:  # type: ignore[no-untyped-def]
    tenant = make_tenant()
    owner, manager = make_member(tenant), make_member(tenant, "manager")
    _, sent = _send(client, owner.headers, WITH_BAD_LINES)
    upload_id = sent["upload_id"]
    outcome = load_upload(pipeline_engine, landing_zone(settings), uuid.UUID(upload_id))
    assert (outcome.rows_loaded, outcome.rows_rejected) == (2, 5)

    response = client.get(f"/v1/uploads/{upload_id}/rejections.csv", headers=manager.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert f"rejections-{upload_id}.csv" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["line", "column", "value", "reason"]
    by_line = {int(r[0]): r for r in rows[1:]}
    assert sorted(by_line) == [3, 4, 5, 6, 7]
    assert [r[0] for r in rows[1:]] == sorted((r[0] for r in rows[1:]), key=int)
    assert by_line[3][2] == '\'=HYPERLINK("http://evil")'
    assert by_line[4][1:3] == ["sales", "'+SUM(A1)"]
    assert by_line[5][1:3] == ["sales", "'-5"]
    assert by_line[6][2] == "'@cmd"
    assert by_line[7][1:3] == ["", ""] and "more fields" in by_line[7][3]
    # Nothing in any cell starts a formula.
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    # The detail lists the same rows (the first hundred): the CSV holds them all.
    detail = client.get(f"/v1/uploads/{upload_id}", headers=owner.headers).json()
    assert len(detail["rejected_rows"]) == len(rows) - 1


def test_the_rejection_report_of_another_tenant_is_not_found(
    client: TestClient, make_tenant, make_member: MakeMember
) -> None:  # type: ignore[no-untyped-def]
    mine, theirs = make_member(make_tenant()), make_member(make_tenant())
    _, sent = _send(client, theirs.headers, WITH_BAD_LINES)
    path = f"/v1/uploads/{sent['upload_id']}/rejections.csv"
    assert client.get(path, headers=theirs.headers).status_code == 200
    assert client.get(path, headers=mine.headers).status_code == 404
    chef = make_member(mine.tenant_id, "chef")
    assert client.get(path, headers=chef.headers).status_code == 403
    assert client.get(path).status_code == 401


def test_an_upload_with_no_rejections_downloads_just_the_header(
    client: TestClient, make_tenant, make_member: MakeMember
) -> None:  # type: ignore[no-untyped-def]
    owner = make_member(make_tenant())
    _, sent = _send(client, owner.headers, b"date,sales\n2025-01-01,1\n")
    response = client.get(f"/v1/uploads/{sent['upload_id']}/rejections.csv", headers=owner.headers)
    assert (response.status_code, response.text) == (200, "line,column,value,reason\r\n")
