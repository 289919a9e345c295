"""Set-based writes for imported leads: a fixed number of statements however many rows.

``leads_import`` inserts the new leads in one ``INSERT … SELECT`` from a JSON parameter (one
parameter, so SQLite's 999-variable limit never splits it into batches), writes their creation
history rows in a second, and fills the empty fields of matched leads in one ``UPDATE … FROM``
whose ``CASE``/``COALESCE`` never overwrites a value (even one entered after the preview).
Every written lead is flagged ``needs_rescore`` and handed to the worker after commit, as
``lead_create`` and ``lead_update`` do one by one.
"""

import json
from datetime import datetime

from django.contrib.auth.models import User
from django.db import IntegrityError, connection, models, transaction

from core.errors import DomainError
from leads.models import Lead, LeadStageChange, SourceChannel, Stage

# The columns an import writes, as the JSON rows carry them.
TEXT_COLUMNS = ("first_name", "last_name", "phone", "title", "company", "industry", "country")
ROW_COLUMNS = ("email", *TEXT_COLUMNS, "company_size", "source_channel", "source_campaign_id")


def _column_type(model: type[models.Model], column: str) -> str:
    for f in model._meta.concrete_fields:
        if f.column == column:
            return f.cast_db_type(connection)
    raise LookupError(column)


def _rows_source(columns: dict[str, str]) -> str:
    """A derived table ``r`` with ``columns`` (name → SQL type) read from ``%(rows)s``, a JSON
    array of objects."""
    if connection.vendor == "postgresql":
        typed = ", ".join(f"{name} {kind}" for name, kind in columns.items())
        return f"jsonb_to_recordset(%(rows)s::jsonb) AS r({typed})"
    picks = ", ".join(f"json_extract(j.value, '$.{name}') AS {name}" for name in columns)
    return f"(SELECT {picks} FROM json_each(%(rows)s) AS j) AS r"  # noqa: S608


def _ids_match(expression: str) -> str:
    if connection.vendor == "postgresql":
        return f"{expression} = ANY(%(ids)s)"
    return f"{expression} IN (SELECT value FROM json_each(%(ids)s))"  # noqa: S608 (a column)


def _ids_param(ids: list[int]):
    return list(ids) if connection.vendor == "postgresql" else json.dumps(list(ids))


def _insert_select(
    model: type[models.Model], *, from_row: dict[str, str], fixed: dict, params: dict
) -> tuple[str, str]:
    """The column list and select list of an ``INSERT … SELECT`` into ``model``: columns in
    ``from_row`` take that expression, the rest ``fixed[name]`` or the field's default, and
    columns with a database default are left to it (so a field added later needs no change)."""
    columns, values = [], []
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        if f.column in from_row:
            expression = from_row[f.column]
        elif f.name in fixed or not f.has_db_default():
            name = f"p_{f.column}"
            params[name] = f.get_db_prep_save(
                fixed[f.name] if f.name in fixed else f.get_default(), connection
            )
            expression = f"%({name})s"
            if connection.vendor == "postgresql":
                expression = f"CAST({expression} AS {f.cast_db_type(connection)})"
        else:
            continue
        columns.append(connection.ops.quote_name(f.column))
        values.append(expression)
    return ", ".join(columns), ", ".join(values)


@transaction.atomic
def leads_import(
    *, actor: User | None, new: list[dict], fills: list[dict], now: datetime, note: str
) -> list[int]:
    """Create ``new`` leads (dicts of ``ROW_COLUMNS``; stage new, a history row each with
    ``note``) and fill ``fills`` (dicts with the lead ``id`` and the values to put into empty
    fields: '' or None leaves a field alone). Returns the created ids in ``new``'s order.
    The caller checked the rows; a lead created meanwhile with one of the emails raises a
    ``DomainError`` and nothing is written."""
    created: list[int] = []
    with connection.cursor() as cursor:
        if new:
            params: dict = {}
            row_types = {"n": "integer"} | {c: _column_type(Lead, c) for c in ROW_COLUMNS}
            columns, values = _insert_select(
                Lead,
                from_row={c: f"r.{c}" for c in ROW_COLUMNS},
                fixed={
                    "stage": Stage.NEW,
                    "stage_changed_at": now,
                    "created_at": now,
                    "updated_at": now,
                    "needs_rescore": True,
                },
                params=params,
            )
            params["rows"] = json.dumps(
                [
                    {"n": n, **{c: row.get(c) or "" for c in ("email", *TEXT_COLUMNS)}}
                    | {c: row.get(c) for c in ("company_size", "source_campaign_id")}
                    | {"source_channel": row.get("source_channel") or SourceChannel.IMPORT}
                    for n, row in enumerate(new)
                ]
            )
            try:
                with transaction.atomic():
                    cursor.execute(
                        f"INSERT INTO leads_lead ({columns}) SELECT {values} "  # noqa: S608
                        f"FROM {_rows_source(row_types)} ORDER BY r.n RETURNING id, email",
                        params,
                    )
                    by_email = {email.lower(): pk for pk, email in cursor.fetchall()}
            except IntegrityError:
                raise DomainError(
                    "A lead with one of these emails was created while you reviewed the file. "
                    "Upload it again to see the current matches.",
                    code="stale_import",
                ) from None
            created = [by_email[row["email"].lower()] for row in new]
            params = {"ids": _ids_param(created)}
            columns, values = _insert_select(
                LeadStageChange,
                from_row={"lead_id": "l.id"},
                fixed={
                    "from_stage": "",
                    "to_stage": Stage.NEW,
                    "actor": actor.pk if actor else None,
                    "note": note,
                    "created_at": now,
                },
                params=params,
            )
            cursor.execute(
                f"INSERT INTO leads_leadstagechange ({columns}) SELECT {values} "  # noqa: S608
                f"FROM leads_lead l WHERE {_ids_match('l.id')} ORDER BY l.id",
                params,
            )
        if fills:
            row_types = {"id": "bigint"} | {
                c: _column_type(Lead, c)
                for c in (*TEXT_COLUMNS, "company_size", "source_campaign_id")
            }
            assignments = [
                f"{c} = CASE WHEN l.{c} = '' AND r.{c} <> '' THEN r.{c} ELSE l.{c} END"
                for c in TEXT_COLUMNS
            ] + [
                "company_size = COALESCE(l.company_size, r.company_size)",
                "source_campaign_id = COALESCE(l.source_campaign_id, r.source_campaign_id)",
                "needs_rescore = TRUE",
                "updated_at = %(now)s",
            ]
            rows = [
                {"id": row["id"]}
                | {c: row.get(c) or "" for c in TEXT_COLUMNS}
                | {c: row.get(c) for c in ("company_size", "source_campaign_id")}
                for row in fills
            ]
            cursor.execute(
                f"UPDATE leads_lead AS l SET {', '.join(assignments)} "  # noqa: S608
                f"FROM {_rows_source(row_types)} WHERE l.id = r.id",
                {
                    "rows": json.dumps(rows),
                    "now": Lead._meta.get_field("updated_at").get_db_prep_save(now, connection),
                },
            )
    touched = [*created, *(row["id"] for row in fills)]
    if touched:
        from leads.tasks import rescore_leads

        transaction.on_commit(lambda: rescore_leads.delay(lead_ids=touched))
    return created
