"""Line items kept per item and day, corrections in the upload history, explicit column mappings."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from collections import defaultdict
from uuid import UUID

import pytest
import sqlalchemy as sa

from flux_core.db.tables import staged_item_sales, staged_sales, uploads
from flux_core.ingest.loader import load_upload
from flux_core.ingest.uploads import (
    InvalidColumnMapping,
    check_column_mapping,
    column_mapping_from_pairs,
    receive_upload,
)
from flux_core.landing import landing_zone
from flux_core.settings import FluxSettings

HEADER = "Order Number,Order Date,Item Name,Quantity,Product Price,Total products\n"
FIRST = HEADER + (
    "1,13/08/2019 20:25,Plain Naan,2,2.60,2\n"
    "1,13/08/2019 20:25,Mushroom Rice,1,3.95,2\n"
    "2,13/08/2019 21:10,Plain Naan,1,2.60,1\n"
    "3,14/08/2019 12:00,Chicken Tikka,3,8.95,1\n"
    "4,14/08/2019 13:00,Plain Naan,x,2.60,1\n"  # a bad quantity: rejected, not loaded
)
# A correction of 14 August: Chicken Tikka was wrong, Onion Bhaji was sold instead.
CORRECTION = HEADER + "9,14/08/2019 12:00,Onion Bhaji,2,3.95,1\n"


def _receive(
    settings: FluxSettings,
    engine: sa.Engine,
    tenant: UUID,
    body: str,
    mapping: dict[str, str] | None = None,
) -> UUID:
    with engine.begin() as conn:
        return receive_upload(
            conn,
            landing_zone(settings),
            tenant,
            "orders.csv",
            io.BytesIO(body.encode()),
            column_mapping=mapping,
        ).upload_id


def _items(engine: sa.Engine, tenant: UUID) -> dict[tuple[str, str], tuple[float, float | None]]:
    """The tenant's item sales, one per (day, item), read back out of each day's arrays."""
    t = staged_item_sales
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                t.c.date,
                sa.func.unnest(t.c["items"]).label("item"),
                sa.func.unnest(t.c.quantities).label("quantity"),
                sa.func.unnest(t.c.revenues).label("revenue"),
            ).where(t.c.tenant_id == tenant)
        ).all()
    found = {
        (r.date.isoformat(), r.item): (
            float(r.quantity),
            None if r.revenue is None else float(r.revenue),
        )
        for r in rows
    }
    assert len(found) == len(rows)  # each item once a day
    return found


def _independent_items(body: str) -> dict[tuple[str, str], tuple[float, float]]:
    """The same sums, counted from the raw text with nothing of the parser."""
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for line in body.splitlines()[1:]:
        _, when, item, quantity, price, _ = line.split(",")
        if not quantity.isdigit():
            continue
        day, month, year = when.split(" ")[0].split("/")
        key = (f"{year}-{month}-{day}", item)
        sums[key][0] += int(quantity)
        sums[key][1] += int(quantity) * float(price)
    return {k: (q, round(r, 2)) for k, (q, r) in sums.items()}


def test_line_items_are_kept_per_item_and_day(
    settings: FluxSettings, pipeline_engine: sa.Engine, make_tenant
) -> None:
    tenant = make_tenant()
    upload_id = _receive(settings, pipeline_engine, tenant, FIRST)
    outcome = load_upload(pipeline_engine, landing_zone(settings), upload_id)

    assert (outcome.status, outcome.rows_loaded, outcome.rows_rejected) == ("loaded", 4, 1)
    assert outcome.items_written == 3
    assert _items(pipeline_engine, tenant) == _independent_items(FIRST)
    # The item rows add up to the daily totals loaded in the same transaction.
    with pipeline_engine.connect() as conn:
        daily = {
            (r.metric, r.date.isoformat()): float(r.value)
            for r in conn.execute(sa.select(staged_sales).where(staged_sales.c.tenant_id == tenant))
        }
    for day in ("2019-08-13", "2019-08-14"):
        on_day = [v for (d, _), v in _items(pipeline_engine, tenant).items() if d == day]
        assert daily[("items", day)] == sum(q for q, _ in on_day)
        assert daily[("sales", day)] == pytest.approx(sum(r or 0 for _, r in on_day))
    assert daily[("orders", "2019-08-13")] == 2


def test_a_correction_replaces_whole_days_and_the_history_says_so(
    settings: FluxSettings, pipeline_engine: sa.Engine, make_tenant
) -> None:
    tenant = make_tenant()
    zone = landing_zone(settings)
    first = _receive(settings, pipeline_engine, tenant, FIRST)
    fix = _receive(settings, pipeline_engine, tenant, CORRECTION)
    assert load_upload(pipeline_engine, zone, first).days_replaced == 0
    outcome = load_upload(pipeline_engine, zone, fix)

    assert outcome.days_replaced == 1 and outcome.replaced_uploads == (first,)
    items = _items(pipeline_engine, tenant)
    # 14 August is wholly the correction's: the item it no longer lists is gone.
    assert {k: v for k, v in items.items() if k[0] == "2019-08-14"} == {
        ("2019-08-14", "Onion Bhaji"): (2.0, 7.9)
    }
    assert {k for k in items if k[0] == "2019-08-13"} == {
        ("2019-08-13", "Plain Naan"),
        ("2019-08-13", "Mushroom Rice"),
    }
    with pipeline_engine.connect() as conn:
        history = {
            r.upload_id: r
            for r in conn.execute(
                sa.select(
                    uploads.c.upload_id, uploads.c.days_replaced, uploads.c.replaced_uploads
                ).where(uploads.c.tenant_id == tenant)
            )
        }
        owners = conn.execute(
            sa.select(staged_item_sales.c.date, staged_item_sales.c.upload_id)
            .where(staged_item_sales.c.tenant_id == tenant)
            .distinct()
        ).all()
    assert (history[first].days_replaced, history[first].replaced_uploads) == (0, [])
    assert (history[fix].days_replaced, history[fix].replaced_uploads) == (1, [first])
    assert {(d.isoformat(), u) for d, u in owners} == {("2019-08-13", first), ("2019-08-14", fix)}


def test_a_daily_correction_names_every_upload_it_replaced(
    settings: FluxSettings, pipeline_engine: sa.Engine, make_tenant
) -> None:
    tenant = make_tenant()
    zone = landing_zone(settings)
    a = _receive(settings, pipeline_engine, tenant, "date,sales\n2025-03-01,1\n2025-03-02,2\n")
    b = _receive(settings, pipeline_engine, tenant, "date,sales\n2025-03-03,3\n")
    c = _receive(
        settings,
        pipeline_engine,
        tenant,
        "date,sales\n2025-03-02,20\n2025-03-03,30\n2025-03-04,4\n",
    )
    outcomes = [load_upload(pipeline_engine, zone, u) for u in (a, b, c)]
    assert outcomes[2].days_replaced == 2
    assert set(outcomes[2].replaced_uploads) == {a, b}


def test_an_explicit_column_mapping_loads_a_file_whose_headers_are_not_recognised(
    settings: FluxSettings, pipeline_engine: sa.Engine, make_tenant
) -> None:
    tenant = make_tenant()
    zone = landing_zone(settings)
    body = "Tag,Einnahmen Bar,Leute\n2025-03-01,100,10\n2025-03-02,200,20\n"
    unmapped = _receive(settings, pipeline_engine, tenant, body)
    assert load_upload(pipeline_engine, zone, unmapped).status == "rejected"

    mapping = column_mapping_from_pairs(["date=Tag", "sales=Einnahmen Bar", "covers=Leute"])
    mapped = _receive(settings, pipeline_engine, tenant, body, mapping)
    outcome = load_upload(pipeline_engine, zone, mapped)

    assert (outcome.status, outcome.rows_loaded) == ("loaded", 2)
    with pipeline_engine.connect() as conn:
        stored = conn.execute(
            sa.select(uploads.c.column_mapping).where(uploads.c.upload_id == mapped)
        ).scalar_one()
        values = conn.execute(
            sa.select(staged_sales.c.metric, sa.func.sum(staged_sales.c.value))
            .where(staged_sales.c.tenant_id == tenant)
            .group_by(staged_sales.c.metric)
        ).all()
    assert stored == {"date": "Tag", "sales": "Einnahmen Bar", "covers": "Leute"}
    assert {m: float(v) for m, v in values} == {"sales": 300.0, "covers": 30.0}


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"date": "Tag", "revenue": "Umsatz"}, "'revenue', which we do not use"),
        ({"sales": "Umsatz"}, "which column holds the date"),
        ({"date": "Tag", "item": "Artikel"}, "both the item and the order_id"),
        ({"date": "Tag", "sales": "Tag"}, "more than one of our names"),
        ({"date": "Tag", "sales": ""}, "no header for 'sales'"),
        (["date", "Tag"], "must be a JSON object"),
    ],
)
def test_a_bad_column_mapping_is_refused_with_the_reason(mapping: object, message: str) -> None:
    with pytest.raises(InvalidColumnMapping, match=message):
        check_column_mapping(mapping)


def test_a_bad_mapping_stores_nothing(
    settings: FluxSettings, pipeline_engine: sa.Engine, make_tenant
) -> None:
    tenant = make_tenant()
    with pytest.raises(InvalidColumnMapping):
        _receive(settings, pipeline_engine, tenant, "a,b\n1,2\n", {"day": "a"})
    with pytest.raises(InvalidColumnMapping, match="not name=header"):
        column_mapping_from_pairs(["date"])
    with pipeline_engine.connect() as conn:
        count = conn.execute(
            sa.select(sa.func.count()).select_from(uploads).where(uploads.c.tenant_id == tenant)
        ).scalar_one()
    assert count == 0
    assert landing_zone(settings).list_keys(f"uploads/tenant={tenant}/", None, 10) == []


def test_item_sales_are_isolated_per_tenant(
    settings: FluxSettings, pipeline_engine: sa.Engine, api_engine: sa.Engine, make_tenant
) -> None:
    mine, theirs = make_tenant(), make_tenant()
    for tenant in (mine, theirs):
        load_upload(
            pipeline_engine,
            landing_zone(settings),
            _receive(settings, pipeline_engine, tenant, FIRST),
        )
    with api_engine.begin() as conn:
        unset = conn.execute(sa.select(sa.func.count()).select_from(staged_item_sales)).scalar()
        conn.execute(sa.select(sa.func.set_config("app.tenant_id", str(mine), True)))
        seen = set(conn.execute(sa.select(staged_item_sales.c.tenant_id).distinct()).scalars())
    assert unset == 0
    assert seen == {mine}


def test_item_names_come_back_exactly_as_the_export_wrote_them(
    settings: FluxSettings, pipeline_engine: sa.Engine, make_tenant
) -> None:
    """Names travel to PostgreSQL inside array literals: quotes, backslashes, commas, braces, line
    breaks and non-Latin text must all survive; names longer than 500 characters are cut,
    and two that share their first 500 characters become one item."""
    long_a, long_b = "L" * 500 + "amb curry", "L" * 500 + "entil soup"
    names = [
        'Pizza 12"',
        "C:\\menu\\naan",
        "Rice, pilau",
        "{set menu}",
        "Nan bread",
        "Crème brûlée 🍮",
        "Naan\nwith butter",
        long_a,
        long_b,
    ]
    quoted = ['"' + name.replace('"', '""') + '"' for name in names]
    body = HEADER + "".join(
        f"{n},13/08/2019 20:{n:02d},{name},{n},1.50,1\n" for n, name in enumerate(quoted, start=1)
    )
    tenant = make_tenant()
    outcome = load_upload(
        pipeline_engine, landing_zone(settings), _receive(settings, pipeline_engine, tenant, body)
    )
    assert (outcome.status, outcome.rows_loaded, outcome.items_written) == ("loaded", 9, 8)
    expected = {("2019-08-13", name): (float(n), 1.5 * n) for n, name in enumerate(names[:7], 1)}
    expected[("2019-08-13", "L" * 500)] = (8.0 + 9.0, 1.5 * (8 + 9))
    assert _items(pipeline_engine, tenant) == expected


def test_an_export_without_prices_keeps_its_quantities_and_no_revenue(
    settings: FluxSettings, pipeline_engine: sa.Engine, make_tenant
) -> None:
    body = (
        "Date,Time,Transaction,Item\n"
        "2016-10-30,09:58:11,1,Bread\n2016-10-30,10:05:34,2,Bread\n2016-10-30,10:05:34,2,Coffee\n"
        "2016-10-31,10:07:57,3,Coffee\n"
    )
    tenant = make_tenant()
    load_upload(
        pipeline_engine, landing_zone(settings), _receive(settings, pipeline_engine, tenant, body)
    )
    assert _items(pipeline_engine, tenant) == {
        ("2016-10-30", "Bread"): (2.0, None),
        ("2016-10-30", "Coffee"): (1.0, None),
        ("2016-10-31", "Coffee"): (1.0, None),
    }


@pytest.mark.parametrize(
    ("items", "quantities", "revenues"),
    [
        (["Naan", "Naan"], [1, 2], [1, 2]),  # an item twice in a day
        (["Naan", ""], [1, 2], [1, 2]),  # an item without a name
        (["Naan", "x" * 501], [1, 2], [1, 2]),  # a name longer than the limit
        (["Naan", "Rice"], [1, -2], [1, 2]),  # a negative quantity
        (["Naan", "Rice"], [1, None], [1, 2]),  # a missing quantity
        (["Naan", "Rice"], [1, 2], [1, -2]),  # a negative revenue
        (["Naan", "Rice"], [1], [1, 2]),  # arrays that do not line up
        ([], [], []),  # a day without items
    ],
)
def test_the_database_refuses_item_days_that_break_the_rules(
    pipeline_engine: sa.Engine, make_tenant, items: list, quantities: list, revenues: list
) -> None:
    tenant = make_tenant()
    row = {"tenant_id": tenant, "date": dt.date(2025, 1, 1), "upload_id": uuid.uuid4()}
    with pytest.raises(sa.exc.IntegrityError), pipeline_engine.begin() as conn:
        conn.execute(
            sa.insert(staged_item_sales).values(
                **row, items=items, quantities=quantities, revenues=revenues
            )
        )
    with pipeline_engine.begin() as conn:  # the same day, by the rules, is taken
        conn.execute(
            sa.insert(staged_item_sales).values(
                **row, items=["Naan", "Rice"], quantities=[1.0, 2.5], revenues=[2.6, None]
            )
        )
