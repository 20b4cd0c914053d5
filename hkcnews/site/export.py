"""A table's whole result written as CSV or JSON lines, by a process of its
own: its main() reads what to write (the SQL of the
table page, its parameters, the database, the format) as JSON on standard
input and writes the file to standard output.

One SELECT on one connection is one consistent result, read once, however
many rows it has: Datasette's CSV stream runs the page's query again for
every thousand rows, a one-character search's search each time. A process
of its own, at the lowest CPU priority, so that when the CPU is short the
readers' pages come first, with no lock of the server's (its GIL) ever
held by a download that the scheduler has set aside; gzip is done here too
when the reader accepts it, for the same reason.
"""

import base64
import csv
import io
import json
import os
import sqlite3
import sys
import zlib
from pathlib import Path

from hkcnews.site.connections import prepare
from hkcnews.site.excerpts import figures_of, passage, passage_text
from hkcnews.site.snippets import SNIPPET

# Rows read and written at a time: large enough that a write is one system
# call of some hundreds of kilobytes, small enough to stay a few megabytes.
BATCH_ROWS = 250
# From this many rows on, every figure of the archive is read once (a tenth
# of a second) rather than a batch's at a time.
ALL_FIGURES_FROM = 2 * BATCH_ROWS
# Level 1: a third of level 6's CPU for a file a fifth larger
# (hkcnews/site/compression.py, which serves pages, says the same).
GZIP_LEVEL = 1
# JSON leaves these raw inside strings, and line-based readers (Python's
# str.splitlines(), httpx's iter_lines()) cut a record at each of them.
_LINE_BREAKS = (("\u2028", "\\u2028"), ("\u2029", "\\u2029"), ("\x85", "\\u0085"))


class TooLarge(Exception):
    """A CSV longer than max_csv_mb."""


def json_line(row):
    """One row (a dict) as a line of JSON, characters as they are, except
    the line breaks that line-based readers split a line at."""
    line = json.dumps(row, ensure_ascii=False, default=_json_value)
    for raw, escaped in _LINE_BREAKS:
        if raw in line:  # a scan of the string; str.translate maps it character by character
            line = line.replace(raw, escaped)
    return line + "\n"


def _json_value(value):
    # As Datasette's JSON writes a blob.
    if isinstance(value, bytes):
        return {"$base64": True, "encoded": base64.b64encode(value).decode("latin-1")}
    return str(value)


def connect(path, immutable=False):
    """A read-only connection to an archive database with the functions and
    limits its pages' connections have, without the budget of one page's
    result: a download's rows are written as they are read."""
    uri = f"{Path(path).resolve().as_uri()}?{'immutable=1' if immutable else 'mode=ro'}"
    conn = sqlite3.connect(uri, uri=True)
    prepare(conn)
    conn.row_factory = None
    return conn


class _Snippets:
    """The passage of each row of a search's result, from the row's own body
    when the result has it."""

    def __init__(self, conn, search, columns):
        self.conn, self.search = conn, search
        self.id_at = columns.index("id")
        self.body_at = columns.index("body") if "body" in columns else None
        self.all_figures = None
        self.seen = 0

    def of(self, rows):
        ids = [row[self.id_at] for row in rows]
        self.seen += len(rows)
        if self.all_figures is None and self.seen > ALL_FIGURES_FROM:
            self.all_figures = figures_of(self.conn)
        figures = self.all_figures if self.all_figures is not None else figures_of(self.conn, ids)
        if self.body_at is None:
            marks = ", ".join("?" * len(ids))
            bodies = dict(self.conn.execute(f"select id, body from articles where id in ({marks})", ids))
        else:
            bodies = {row[self.id_at]: row[self.body_at] for row in rows}
        return [passage(passage_text(bodies.get(i), figures.get(i, [])), self.search) for i in ids]


def write(spec, out):
    """Writes the result of ``spec`` to the binary stream ``out``: ``path``
    (the database file) and ``immutable`` (whether it is served as one), ``sql`` and ``params`` (the table page's query,
    without its limit), ``format`` (``csv`` or ``jsonl``), ``search`` (the
    request's search, for a snippet column; or None), ``header`` (CSV: the
    header line or not), ``gzip``, ``max_bytes`` (CSV: Datasette's
    max_csv_mb in bytes; 0 for none). Returns the number of rows; raises
    TooLarge past ``max_bytes``, having written what came before."""
    conn = connect(spec["path"], spec.get("immutable", False))
    cursor = conn.execute(spec["sql"], spec["params"])
    columns = [d[0] for d in cursor.description]
    snippets = _Snippets(conn, spec["search"], columns) if spec.get("search") and "id" in columns else None
    names = [*columns, SNIPPET] if snippets else columns
    gzip = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31) if spec.get("gzip") else None

    max_bytes, written = spec.get("max_bytes") or 0, 0

    def emit(text):
        nonlocal written
        data = text.encode("utf-8")
        written += len(data)
        if max_bytes and written > max_bytes:
            # Datasette's words for its own CSV limit.
            raise TooLarge(f"CSV contains more than {max_bytes} bytes")
        # Each piece whole as it is written (a sync flush costs a few bytes),
        # so that the reader has every row read so far.
        out.write(gzip.compress(data) + gzip.flush(zlib.Z_SYNC_FLUSH) if gzip else data)
        out.flush()

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if spec["format"] == "csv" and spec.get("header", True):
        writer.writerow(names)
        emit(buffer.getvalue())  # the reader has a first line while the rows are read
        buffer.seek(0)
        buffer.truncate()
    count = 0
    while rows := cursor.fetchmany(BATCH_ROWS):
        if snippets:
            rows = [(*row, cell) for row, cell in zip(rows, snippets.of(rows), strict=True)]
        if spec["format"] == "csv":
            writer.writerows(rows)
        else:
            buffer.write("".join(json_line(dict(zip(names, row, strict=True))) for row in rows))
        count += len(rows)
        emit(buffer.getvalue())
        buffer.seek(0)
        buffer.truncate()
    emit(buffer.getvalue())
    if gzip:
        out.write(gzip.flush())
    out.flush()
    return count


def main():
    # The lowest priority: a reader's page is never kept waiting by a download.
    os.nice(19)
    spec = json.load(sys.stdin)
    try:
        write(spec, sys.stdout.buffer)
    except (sqlite3.Error, OSError, TooLarge) as error:
        # The server breaks off the download, whose reader sees it incomplete.
        print(error if isinstance(error, TooLarge) else f"{spec['sql']}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
