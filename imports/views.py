"""The lead import pages (marketers and managers): upload a CSV, review the per-row report,
import the valid rows, download the rows with errors to fix them."""

import csv
import io
import re

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from core.csv_export import csv_cell
from core.errors import DomainError, InvalidInput
from core.roles import Role, role_required
from imports.lead_rows import (
    COLUMNS,
    CREATED,
    ERROR,
    ERRORS_COLUMN,
    MATCHED,
    MAX_BYTES,
    MAX_ROWS,
    NOT_IMPORTED,
    csv_parse,
    lead_import_plan,
)
from imports.selectors import import_batches_recent, import_batches_visible
from imports.services import import_batch_commit, import_batch_create

ROWS_PER_PAGE = 500
SHOW_CHOICES = {"all": "All rows", ERROR: "Errors", CREATED: "New leads", MATCHED: "Matched"}


class UploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text=f"UTF-8, a header row naming the columns, at most {MAX_BYTES // 2**20} MB "
        f"and {MAX_ROWS:,} rows.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )


def _batch(request, pk: int):
    return get_object_or_404(import_batches_visible(user=request.user), pk=pk)


@role_required(Role.MARKETER)
def lead_import(request):
    form = UploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > MAX_BYTES:  # refused before reading it into memory
                form.add_error(
                    "file",
                    f"The file is larger than {MAX_BYTES // 2**20} MB: split it into "
                    "smaller files.",
                )
            else:
                try:
                    batch = import_batch_create(
                        actor=request.user, file_name=upload.name, data=upload.read()
                    )
                except InvalidInput as error:
                    form.add_error("file", error.message)
                else:
                    return redirect("imports:lead_import_batch", pk=batch.pk)
        status = 400
    return render(
        request,
        "imports/lead_import.html",
        {
            "title": "Import leads",
            "form": form,
            "columns": COLUMNS,
            "not_imported": NOT_IMPORTED,
            "batches": import_batches_recent(user=request.user),
        },
        status=status,
    )


@role_required(Role.MARKETER)
def lead_import_template(request):
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="leads-template.csv"'
    writer = csv.writer(response)
    writer.writerow(COLUMNS)
    return response


def _report(batch) -> tuple[list[dict], list[tuple[str, str]]]:
    """Per-row outcomes (what the import did, or would do now) and the ignored columns."""
    parsed = csv_parse(batch.content)
    if batch.is_imported:
        return list(batch.outcomes), parsed.ignored
    plan = lead_import_plan(parsed)
    rows = [
        {
            "line": row.line,
            "email": row.email,
            "outcome": row.outcome,
            "filled": row.filled,
            "errors": row.errors,
        }
        for row in plan.rows
    ]
    return rows, parsed.ignored


@role_required(Role.MARKETER)
def lead_import_batch(request, pk: int):
    batch = _batch(request, pk)
    rows, ignored = _report(batch)
    counts = {
        outcome: sum(1 for r in rows if r["outcome"] == outcome)
        for outcome in (CREATED, MATCHED, ERROR)
    }
    show = request.GET.get("show", "all")
    if show not in SHOW_CHOICES:
        show = "all"
    shown = rows if show == "all" else [r for r in rows if r["outcome"] == show]
    try:
        page = max(int(request.GET.get("page", 1)), 1)
    except ValueError:
        page = 1
    start = (page - 1) * ROWS_PER_PAGE
    return render(
        request,
        "imports/lead_import_batch.html",
        {
            "title": f"Import {batch.file_name}",
            "batch": batch,
            "rows": shown[start : start + ROWS_PER_PAGE],
            "counts": counts,
            "valid": counts[CREATED] + counts[MATCHED],
            "ignored": ignored,
            "show": show,
            "show_choices": [
                (key, label, len(rows) if key == "all" else counts[key])
                for key, label in SHOW_CHOICES.items()
            ],
            "page": page,
            "previous_page": page - 1 if page > 1 else None,
            "next_page": page + 1 if start + ROWS_PER_PAGE < len(shown) else None,
        },
    )


@role_required(Role.MARKETER)
@require_POST
def lead_import_commit(request, pk: int):
    # Only whether the user may see it: the service reads the file under its lock.
    batch = get_object_or_404(
        import_batches_visible(user=request.user).select_related(None).only("pk"), pk=pk
    )
    try:
        batch = import_batch_commit(batch_id=batch.pk, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("imports:lead_import_batch", pk=batch.pk)
    summary = (
        f"Imported {batch.file_name}: {batch.created_count} new "
        f"lead{'s' if batch.created_count != 1 else ''}, {batch.matched_count} matched."
    )
    if batch.error_count:
        summary += (
            f" {batch.error_count} row{'s' if batch.error_count != 1 else ''} with errors "
            f"{'were' if batch.error_count != 1 else 'was'} left out: download, fix and "
            "upload again."
        )
    messages.success(request, summary)
    return redirect("imports:lead_import_batch", pk=batch.pk)


@role_required(Role.MARKETER)
def lead_import_errors(request, pk: int):
    """The rows with errors as a CSV: the file's own columns plus ``errors``, ready to fix and
    upload again."""
    batch = _batch(request, pk)
    rows, _ignored = _report(batch)
    errors = {r["line"]: r["errors"] for r in rows if r["outcome"] == ERROR}
    if not errors:
        raise Http404("No row of this file has errors.")
    parsed = csv_parse(batch.content)
    out = io.StringIO()
    writer = csv.writer(out)
    # A file that is itself an errors download keeps its one errors column, rewritten.
    names = [cell.strip().lower() for cell in parsed.header]
    at = names.index(ERRORS_COLUMN) if ERRORS_COLUMN in names else None
    writer.writerow(parsed.header if at is not None else [*parsed.header, ERRORS_COLUMN])
    for line, cells in parsed.rows:
        if line in errors:
            text = "; ".join(
                f"{name}: {' '.join(messages_)}" for name, messages_ in errors[line].items()
            )
            padded = cells + [""] * (len(parsed.header) - len(cells))
            if at is None:
                padded.append("")
                at_cell = len(padded) - 1
            else:
                at_cell = at
            padded[at_cell] = f"line {line}: {text}"
            writer.writerow([csv_cell(cell) for cell in padded])
    stem = re.sub(r"[^\w.-]+", "-", batch.file_name.rsplit(".", 1)[0]).strip("-") or "leads"
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{stem}-errors.csv"'
    return response
