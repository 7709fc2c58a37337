"""Files streamed to the client as they are read: CSV and JSON exports of any size.

Django serves a StreamingHttpResponse whose content is a plain (synchronous)
iterator under ASGI by reading it all into a list first: a year of sessions
would sit in the server's memory before the first byte left. Under ASGI the
content here is an asynchronous iterator that reads a slice of rows at a time
in the request's own thread (its database connection), so memory stays
bounded by one slice; under WSGI it is the plain iterator.
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator, Iterable, Iterator
from itertools import islice

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.core.serializers.json import DjangoJSONEncoder
from django.http import StreamingHttpResponse

ROWS_PER_SLICE = 500
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def streaming_file(
    chunks: Iterable[str], *, request, content_type: str, filename: str
) -> StreamingHttpResponse:
    """A download of `chunks`, streamed (see the module)."""
    content = _async_slices(iter(chunks)) if _is_asgi(request) else chunks
    return StreamingHttpResponse(
        content,
        content_type=content_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def csv_chunks(header: Iterable[str], rows: Iterable[tuple]) -> Iterator[str]:
    """CSV lines; a text cell a spreadsheet would run as a formula is defused with a quote."""
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([_safe(value) for value in row])


def json_chunks(header: Iterable[str], rows: Iterable[tuple]) -> Iterator[str]:
    """A JSON array of objects (the header's names as keys), one object a chunk."""
    names = tuple(header)
    encoder = DjangoJSONEncoder()
    separator = "[\n"
    for row in rows:
        yield separator + encoder.encode(dict(zip(names, row, strict=True)))
        separator = ",\n"
    yield "[]\n" if separator == "[\n" else "\n]\n"


def _safe(value) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


class _Echo:
    def write(self, value: str) -> str:
        return value


def _is_asgi(request) -> bool:
    return isinstance(getattr(request, "_request", request), ASGIRequest)


def _take(chunks: Iterator[str]) -> str:
    return "".join(islice(chunks, ROWS_PER_SLICE))


async def _async_slices(chunks: Iterator[str]) -> AsyncIterator[bytes]:
    # thread_sensitive: the request's thread, hence its database connection.
    take = sync_to_async(_take, thread_sensitive=True)
    while part := await take(chunks):
        yield part.encode()


__all__ = ["csv_chunks", "json_chunks", "streaming_file"]
