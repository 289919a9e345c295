"""Streamed CSV downloads: cells a spreadsheet will not run as formulas, written as the rows
arrive so a large export never sits in memory."""

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

from django.http import StreamingHttpResponse

# Spreadsheet apps run cells starting with these as formulas (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Rows a selector should read per database round trip (``.iterator(chunk_size=…)``).
CSV_CHUNK_SIZE = 2000
# Text gathered before it is handed to the server: one write per row would be slow.
_FLUSH_CHARS = 64 * 1024


def csv_cell(value) -> str:
    """``value`` as CSV text: "" for None, ISO 8601 for dates and times, and text that starts
    like a formula prefixed with ``'`` so it stays text (numbers cannot be formulas)."""
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    text = str(value)
    if isinstance(value, str) and text.startswith(FORMULA_PREFIXES):
        return f"'{text}"
    return text


def csv_cell_read(text: str) -> str:
    """A cell as ``csv_cell`` wrote it, read back: the ``'`` it put before a formula-like text
    comes off (so an exported phone ``+44…`` imports as ``+44…``)."""
    if text.startswith("'") and text[1:].startswith(FORMULA_PREFIXES):
        return text[1:]
    return text


def _csv_text(header: Sequence[str], rows: Iterable[Sequence]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
        if buffer.tell() >= _FLUSH_CHARS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_streaming_response(
    *, header: Sequence[str], rows: Iterable[Sequence], filename: str
) -> StreamingHttpResponse:
    """A download of ``header`` then ``rows`` (read lazily, while the response is sent: pass
    a ``QuerySet.iterator(chunk_size=CSV_CHUNK_SIZE)``), every cell through ``csv_cell``."""
    response = StreamingHttpResponse(
        _csv_text(header, rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
