"""Reading a CSV of leads and deciding, row by row, what importing it would do.

A file is checked as a whole first (UTF-8, a header row with an ``email`` column, at most
``MAX_BYTES`` and ``MAX_ROWS``); then every row is cleaned with the rules of the lead form and
API (the model's fields: lengths, a valid email, company size a whole number ≥ 0, an ISO
country code, a known source channel and campaign) and matched by email case-insensitively
against the leads (one query) and the earlier rows of the file. ``lead_import_plan`` only
reads; ``imports.services`` writes what it planned.
"""

import csv
import io
from dataclasses import dataclass, field

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.db.models.functions import Lower

from campaigns.models import Campaign
from core.csv_export import csv_cell_read
from core.errors import InvalidInput
from leads.api import COMPANY_SIZE_MAX
from leads.countries import ISO_COUNTRY_CODES
from leads.import_services import TEXT_COLUMNS
from leads.models import Lead, SourceChannel
from leads.services import FILLABLE_FIELDS, blank_fields

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
# The columns a file may have, in the template's order; ``source_campaign`` is read as
# ``campaign`` (a campaign's name or id).
COLUMNS = (
    "email",
    "first_name",
    "last_name",
    "phone",
    "title",
    "company",
    "company_size",
    "industry",
    "country",
    "source_channel",
    "campaign",
)
COLUMN_ALIASES = {"source_campaign": "campaign"}
# Lead fields a file may not set, and why (they are reported, not silently dropped).
NOT_IMPORTED = {
    "stage": "imported leads start as New; stages move through the lifecycle",
    "kind": "set when a lead is qualified",
    "owner": "owners come from routing and the queue",
    "score": "scores come from the scoring rules",
    "temperature": "temperature comes from the score",
}

CREATED, MATCHED, ERROR = "created", "matched", "error"
# The column the errors download adds; a fixed file uploaded again may still have it.
ERRORS_COLUMN = "errors"


@dataclass(frozen=True)
class ParsedFile:
    header: list[str]  # as written in the file
    columns: list[str | None]  # per header cell: the lead column it fills, or None
    ignored: list[tuple[str, str]]  # (header cell, why it is not imported)
    rows: list[tuple[int, list[str]]]  # (line number, cells) per data row
    delimiter: str


@dataclass
class RowPlan:
    line: int
    cells: list[str]
    email: str = ""
    outcome: str = CREATED
    values: dict = field(default_factory=dict)  # cleaned; "source_campaign" is a campaign id
    filled: list[str] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)
    lead_id: int | None = None

    def error_text(self) -> str:
        return "; ".join(f"{name}: {' '.join(messages)}" for name, messages in self.errors.items())


@dataclass
class ImportPlan:
    parsed: ParsedFile
    rows: list[RowPlan]

    def count(self, outcome: str) -> int:
        return sum(1 for row in self.rows if row.outcome == outcome)

    @property
    def valid(self) -> int:
        return len(self.rows) - self.count(ERROR)


def _column_for(cell: str) -> tuple[str | None, str]:
    name = cell.strip().lower().replace(" ", "_").replace("-", "_")
    name = COLUMN_ALIASES.get(name, name)
    if name in COLUMNS:
        return name, ""
    if name in NOT_IMPORTED:
        return None, NOT_IMPORTED[name]
    if name == ERRORS_COLUMN:
        return None, "messages from an earlier import"
    if not name:
        return None, "the column has no name"
    return None, "not a lead field"


def csv_decode(data: bytes) -> str:
    """The file's text, or ``InvalidInput`` (field ``file``) saying what is wrong with it."""
    if len(data) > MAX_BYTES:
        raise InvalidInput(
            f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB: split it into smaller "
            "files.",
            field="file",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(
            "The file is not UTF-8 text. In Excel choose “CSV UTF-8 (Comma delimited)” when "
            "saving, then upload it again.",
            field="file",
        ) from None
    if "\x00" in text:
        raise InvalidInput("This is not a CSV file (it holds binary data).", field="file")
    return text


def csv_parse(text: str) -> ParsedFile:
    """The header and data rows of ``text``; ``InvalidInput`` (field ``file``) when the file
    as a whole cannot be imported."""
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        if not header or not any(cell.strip() for cell in header):
            raise InvalidInput(
                "The file is empty: the first line must name the columns (download the template).",
                field="file",
            )
        columns, ignored, seen = [], [], set()
        for cell in header:
            column, why = _column_for(cell)
            if column in seen:
                raise InvalidInput(
                    f"The column {cell.strip()!r} appears twice in the header.", field="file"
                )
            if column:
                seen.add(column)
            else:
                ignored.append((cell.strip() or "(blank)", why))
            columns.append(column)
        if "email" not in seen:
            raise InvalidInput(
                "The header has no email column: the first line must name the columns, one of "
                "them email (download the template).",
                field="file",
            )
        rows, last_line = [], reader.line_num
        for cells in reader:
            line, last_line = last_line + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue  # blank lines, often at the end of exported files
            # Our own exports guard formula-like cells with a "'": read them as they were.
            rows.append((line, [csv_cell_read(cell) for cell in cells]))
            if len(rows) > MAX_ROWS:
                raise InvalidInput(
                    f"The file has more than {MAX_ROWS:,} rows: split it into smaller files.",
                    field="file",
                )
    except csv.Error as error:
        raise InvalidInput(
            f"Line {reader.line_num} cannot be read as CSV ({error}).", field="file"
        ) from None
    if not rows:
        raise InvalidInput("The file has a header but no rows of leads.", field="file")
    return ParsedFile(header, columns, ignored, rows, delimiter)


class _Cleaners:
    """One form field per column, built once per file: the lead form's own rules."""

    def __init__(self):
        self.text = {name: Lead._meta.get_field(name).formfield() for name in TEXT_COLUMNS}
        self.email = forms.EmailField(max_length=Lead._meta.get_field("email").max_length)
        self.company_size = forms.IntegerField(
            min_value=0, max_value=COMPANY_SIZE_MAX, required=False
        )
        self.channels = {v: v for v in SourceChannel.values} | {
            str(label).lower(): v for v, label in SourceChannel.choices
        }

    def clean(self, column: str, raw: str):
        raw = raw.strip()
        if column == "email":
            if not raw:
                raise ValidationError("An email address is required.")
            return self.email.clean(raw)
        if column == "company_size":
            return self.company_size.clean(raw.replace(",", "").replace(" ", ""))
        if column == "country":
            code = raw.upper()
            if code and code not in ISO_COUNTRY_CODES:
                raise ValidationError(
                    f"Unknown country code {code}: use an ISO 3166 code such as US, GB, DE."
                )
            return code
        if column == "source_channel":
            if not raw:
                return ""
            channel = self.channels.get(raw) or self.channels.get(raw.lower())
            if channel is None:
                raise ValidationError(
                    f"Unknown source channel {raw!r}: use one of {', '.join(SourceChannel.values)}."
                )
            return channel
        return self.text[column].clean(raw)


def _campaigns_by_reference(references: set[str]) -> dict[str, list[int]]:
    """Campaign ids per reference (an id, or a name case-insensitively): one query."""
    if not references:
        return {}
    ids = {int(r) for r in references if r.isdigit() and len(r) < 19}
    names = {r.lower() for r in references}
    found: dict[str, list[int]] = {}
    rows = (
        Campaign.objects.annotate(name_lower=Lower("name"))
        .filter(Q(pk__in=ids) | Q(name_lower__in=names))
        .values_list("pk", "name_lower")
    )
    for pk, name in rows:
        if pk in ids:
            found.setdefault(str(pk), []).append(pk)
        if name in names:
            found.setdefault(name, []).append(pk)
    return found


def lead_import_plan(parsed: ParsedFile, *, lock: bool = False) -> ImportPlan:
    """What importing ``parsed`` would do to each row: create a lead, match an existing one
    (and fill which of its empty fields), or nothing because of the row's errors. Two queries
    whatever the size (leads by email, campaigns by name or id); ``lock`` locks the matched
    leads until the caller's transaction ends."""
    cleaners = _Cleaners()
    width = len(parsed.header)
    plans: list[RowPlan] = []
    for line, cells in parsed.rows:
        row = RowPlan(line=line, cells=cells)
        plans.append(row)
        if len(cells) > width:
            row.errors["line"] = [
                f"This line has {len(cells)} cells but the header names {width} columns."
            ]
        for column, raw in zip(parsed.columns, cells, strict=False):
            if column is None:
                continue
            if column == "email":
                row.email = raw.strip()
            if column == "campaign":
                if raw.strip():
                    row.values["source_campaign"] = raw.strip()
                continue
            try:
                value = cleaners.clean(column, raw)
            except ValidationError as error:
                row.errors[column] = list(error.messages)
                continue
            if value not in (None, ""):
                row.values[column] = value
        if "email" not in row.values and "email" not in row.errors:
            row.errors["email"] = ["An email address is required."]

    references = {r.values["source_campaign"] for r in plans if "source_campaign" in r.values}
    campaigns = _campaigns_by_reference(references)
    emails = {r.values["email"].lower() for r in plans if "email" in r.values}
    existing = Lead.objects.annotate(email_lower=Lower("email")).filter(email_lower__in=emails)
    if lock:
        existing = existing.select_for_update()
    leads = {
        lead.email_lower: lead
        for lead in existing.only(
            "pk", "email", *TEXT_COLUMNS, "company_size", "source_campaign_id"
        )
    }

    first_line: dict[str, int] = {}
    for row in plans:
        reference = row.values.get("source_campaign")
        if reference is not None:
            matches = campaigns.get(reference, []) or campaigns.get(reference.lower(), [])
            if not matches:
                row.errors["campaign"] = [f"No campaign {reference!r}: give its name or id."]
            elif len(set(matches)) > 1:
                row.errors["campaign"] = [
                    f"Several campaigns are named {reference!r}: give the campaign's id."
                ]
            else:
                row.values["source_campaign"] = matches[0]
        key = row.values.get("email", "").lower()
        if key:
            if key in first_line:
                row.errors.setdefault("email", []).append(
                    f"The same email as line {first_line[key]}: each lead once per file."
                )
            else:
                first_line[key] = row.line
        if row.errors:
            row.outcome = ERROR
            continue
        lead = leads.get(key)
        if lead is None:
            row.outcome = CREATED
            row.filled = [n for n in (*FILLABLE_FIELDS, "source_channel") if n in row.values]
        else:
            row.outcome, row.lead_id = MATCHED, lead.pk
            row.filled = blank_fields(lead, row.values)
    return ImportPlan(parsed, plans)
