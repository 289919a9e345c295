"""Writes for lead imports: keep an uploaded file as a batch, then import its valid rows.

``import_batch_create`` stores the file only when it can be read as a whole (size, encoding,
header, row count); the per-row report is computed from it on demand. ``import_batch_commit``
re-plans the rows against the leads as they are now, inside its transaction (matched leads
locked), and writes them set-based through ``leads.import_services.leads_import``: a fixed
number of statements whatever the number of rows. A batch imports once; a second click is
refused.
"""

from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.errors import DomainError, NotAllowed
from core.roles import is_manager, is_marketer
from imports.lead_rows import (
    CREATED,
    ERROR,
    MATCHED,
    csv_decode,
    csv_parse,
    lead_import_plan,
)
from imports.models import ImportBatch
from leads.import_services import ROW_COLUMNS, leads_import


def import_may_run(user: User) -> bool:
    return is_marketer(user) or is_manager(user)


def _require_importer(actor: User) -> None:
    if not import_may_run(actor):
        raise NotAllowed("Only marketing and managers import leads.")


@transaction.atomic
def import_batch_create(*, actor: User, file_name: str, data: bytes) -> ImportBatch:
    """Keep an uploaded CSV for review. ``InvalidInput`` (field ``file``) when the file cannot
    be imported as a whole: over 5 MB or 20,000 rows, not UTF-8, no header or email column."""
    _require_importer(actor)
    text = csv_decode(data)
    parsed = csv_parse(text)
    name = (file_name or "leads.csv").rsplit("/", 1)[-1][:255]
    return ImportBatch.objects.create(
        created_by=actor, file_name=name, content=text, row_count=len(parsed.rows)
    )


@transaction.atomic
def import_batch_commit(*, batch_id: int, actor: User) -> ImportBatch:
    """Import the batch's valid rows: new emails become leads in stage new (source channel
    from the file, else import; a history row each), known emails fill only the lead's empty
    fields. Rows with errors are left out and stay downloadable. Every written lead is rescored
    by the worker after commit. Refused when the batch was imported already or no row is
    valid; nothing is written then."""
    _require_importer(actor)
    batch = ImportBatch.objects.select_for_update().get(pk=batch_id)
    if batch.created_by_id != actor.pk and not is_manager(actor):
        raise NotAllowed("This import belongs to another user.")
    if batch.is_imported:
        raise DomainError("This file was imported already.", code="already_imported")
    plan = lead_import_plan(csv_parse(batch.content), lock=True)
    if not plan.valid:
        raise DomainError(
            "No row can be imported: fix the rows with errors and upload the file again.",
            code="nothing_to_import",
        )
    now = timezone.now()
    new = [row for row in plan.rows if row.outcome == CREATED]
    fills = [row for row in plan.rows if row.outcome == MATCHED and row.filled]
    created_ids = leads_import(
        actor=actor,
        new=[_columns(row.values) for row in new],
        fills=[
            {"id": row.lead_id, **_columns({n: row.values[n] for n in row.filled})} for row in fills
        ],
        now=now,
        note=f"Imported from {batch.file_name}",
    )
    for row, lead_id in zip(new, created_ids, strict=True):
        row.lead_id = lead_id
    batch.status = ImportBatch.Status.IMPORTED
    batch.imported_at = now
    batch.created_count = len(new)
    batch.matched_count = plan.count(MATCHED)
    batch.error_count = plan.count(ERROR)
    batch.outcomes = [
        {
            "line": row.line,
            "email": row.email,
            "outcome": row.outcome,
            "filled": row.filled,
            "errors": row.errors,
            "lead": row.lead_id,
        }
        for row in plan.rows
    ]
    batch.save(
        update_fields=[
            "status",
            "imported_at",
            "created_count",
            "matched_count",
            "error_count",
            "outcomes",
        ]
    )
    return batch


def _columns(values: dict) -> dict:
    """A planned row's values as ``leads_import`` columns."""
    out = {c: values[c] for c in ROW_COLUMNS if c in values}
    if values.get("source_campaign") is not None:
        out["source_campaign_id"] = values["source_campaign"]
    return out


# An upload nobody imported is dropped after two weeks; an imported one (kept for its errors
# download and its per-row record) after a quarter.
PREVIEW_KEPT = timedelta(days=14)
IMPORTED_KEPT = timedelta(days=90)


def import_batches_expire(*, now: datetime | None = None) -> int:
    """Delete old batches (each keeps up to 5 MB of file text) in one statement."""
    now = now or timezone.now()
    deleted, _ = ImportBatch.objects.filter(
        Q(status=ImportBatch.Status.PREVIEW, created_at__lt=now - PREVIEW_KEPT)
        | Q(status=ImportBatch.Status.IMPORTED, imported_at__lt=now - IMPORTED_KEPT)
    ).delete()
    return deleted
