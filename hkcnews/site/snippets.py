"""The snippet column of a search of the articles table: each result's
passage around its best hits (excerpts.py), in place of the start of the
body. The table page shows it beside the title; its CSV, JSON and JSON lines
add it as a column named snippet, only when the request has a search
(?_search=, or a column's ?_search_title=), and keep the whole body.

Datasette has no hook that adds a column to a table's rows, so the page's
rows get theirs in _table.html (table_view), and the CSV and JSON get theirs
from this module's middleware, which rewrites the rows Datasette wrote: a
JSON page whole (one page, within limits.py's result budget), a CSV record
by record as it streams, the page's passages read in one query per piece.
"""

import codecs
import copy
import csv
import io
import json

from datasette.utils.asgi import Request
from markupsafe import Markup

from hkcnews.ours import ARTICLES, archive_in_path
from hkcnews.site.excerpts import PASSAGE_CHARS, passages
from hkcnews.site.held import held_response
from hkcnews.site.search_syntax import table_searches

SNIPPET = "snippet"
DESCRIPTION = f"The passage (at most {PASSAGE_CHARS} characters) around the best hits of the search, the hits marked."
_SNIPPET_COLUMN = {
    "name": SNIPPET,
    "sortable": False,
    "is_pk": False,
    "type": "",
    "notnull": 0,
    "description": DESCRIPTION,
}
# The longest value a CSV record can hold: SQLite's length limit (limits.py).
csv.field_size_limit(1_000_000)


def search_of(args):
    """The search of a table request's arguments (request.args: the
    ?_search= and the column searches, each in brackets beside the others),
    or None."""
    values = [v.strip() for v in table_searches(args) if v.strip()]
    if len(values) > 1:
        return " ".join(f"({v})" for v in values)
    return values[0] if values else None


def table_view(datasette, database, search):
    """For _table.html: an awaitable function of Datasette's display_columns
    and display_rows that gives them back with each row's passage, as the
    body cell where the page shows the body, else in a snippet column after
    the title."""

    async def view(columns, rows):
        names = [c["name"] for c in columns]
        ids = [_row_id(row) for row in rows]
        found = await datasette.get_database(database).execute_fn(
            lambda conn: passages(conn, search, [i for i in ids if i is not None])
        )
        replace = "body" in names
        if replace:
            at = names.index("body")
        else:
            at = names.index("title") + 1 if "title" in names else len(names)
            columns = [*columns[:at], _SNIPPET_COLUMN, *columns[at:]]
        return {
            "columns": columns,
            "rows": [_with_cell(row, at, found.get(i, ""), replace) for row, i in zip(rows, ids, strict=True)],
        }

    return view


def _row_id(row):
    for cell in row:
        if cell["column"] == "id":
            try:
                return int(cell["raw"])
            except (TypeError, ValueError):
                return None
    return None


def _with_cell(row, at, passage_html, replace):
    cells = list(row)
    shown = Markup('<div class="hkc-passage">') + Markup(passage_html) + Markup("</div>")
    cell = {"column": SNIPPET, "value": shown, "raw": passage_html, "value_type": "str"}
    if replace:
        cells[at] = {**cells[at], "value": cell["value"]}
    else:
        cells.insert(at, cell)
    if hasattr(row, "cells"):  # Datasette 1.0's Row, whose other attributes the template reads
        row = copy.copy(row)
        row.cells = cells
        return row
    return cells


class SnippetColumn:
    """ASGI middleware: a snippet column in the CSV and JSON of a search of
    an archive's articles table."""

    def __init__(self, app, datasette):
        self.app = app
        self.datasette = datasette

    async def __call__(self, scope, receive, send):
        target = await self._target(scope)
        if target is None:
            return await self.app(scope, receive, send)
        db, search, extension = target
        if extension == "json":
            return await self._json(db, search, scope, receive, send)
        return await self._csv(db, search, scope, receive, send)

    async def _target(self, scope):
        if scope["type"] != "http" or scope["method"] != "GET":
            return None
        parts = scope["path"].strip("/").split("/")
        if len(parts) != 2 or parts[1] not in (f"{ARTICLES}.json", f"{ARTICLES}.csv"):
            return None
        search = search_of(Request(scope, None).args)
        if search is None:
            return None
        db = await archive_in_path(self.datasette, scope["path"])
        if db is None:
            return None
        return db, search, parts[1].rsplit(".", 1)[1]

    async def _json(self, db, search, scope, receive, send):
        start, body = await held_response(self.app, scope, receive)
        if start["status"] == 200:
            body = await _json_with_snippets(db, search, body)
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def _csv(self, db, search, scope, receive, send):
        status = None
        records = _CsvRecords()
        id_at = None

        async def rewrite(message):
            nonlocal status, id_at
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"content-length"]
                return await send({**message, "headers": headers})
            if message["type"] != "http.response.body" or status != 200:
                return await send(message)
            more = message.get("more_body", False)
            rows = records.feed(message.get("body", b""), final=not more)
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\r\n")
            if rows and id_at is None:
                header = rows.pop(0)
                id_at = header.index("id") if "id" in header else -1
                writer.writerow(header + ([SNIPPET] if id_at >= 0 else []))
            if rows and id_at >= 0:
                ids = [_int(row[id_at]) if len(row) > id_at else None for row in rows]
                found = await db.execute_fn(lambda conn: passages(conn, search, [i for i in ids if i is not None]))
                rows = [row + [found.get(i, "")] for row, i in zip(rows, ids, strict=True)]
            writer.writerows(rows)
            body = out.getvalue().encode("utf-8") + records.unparsed(final=not more)
            if body or not more:
                await send({"type": "http.response.body", "body": body, "more_body": more})

        await self.app(scope, receive, rewrite)


class _CsvRecords:
    """Whole CSV records out of a stream of pieces: a record ends at a CRLF
    outside double quotes (a value may hold line breaks)."""

    def __init__(self):
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.buffer = ""
        self.scanned = 0  # how much of buffer the quote count covers
        self.quotes = 0  # double quotes in buffer[:scanned]
        self.rest = b""

    def feed(self, piece, final=False):
        """The rows of every record the pieces so far complete."""
        self.buffer += self.decoder.decode(piece, final)
        end, pos = 0, self.scanned
        while (crlf := self.buffer.find("\r\n", pos)) >= 0:
            self.quotes += self.buffer.count('"', pos, crlf)
            pos = crlf + 2
            if self.quotes % 2 == 0:
                end, self.quotes = pos, 0
        complete, self.buffer = self.buffer[:end], self.buffer[end:]
        self.scanned = pos - end
        return list(csv.reader(io.StringIO(complete, newline="")))

    def unparsed(self, final):
        """What is left at the end of the stream, passed on as it came (the
        line Datasette writes when a download stops early ends no record:
        downloads.py then breaks the connection before it is sent)."""
        if not final:
            return b""
        left, self.buffer = self.buffer, ""
        return left.encode("utf-8")


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


async def _json_with_snippets(db, search, body):
    """A table's JSON page with a snippet in each row, in every shape
    Datasette writes: rows as objects or as arrays beside their columns, a
    bare array of objects, objects keyed by primary key, one object a line."""
    try:
        data = json.loads(body)
        lines = None
    except ValueError:
        try:
            lines = [json.loads(line) for line in body.decode("utf-8").splitlines() if line.strip()]
        except ValueError:
            return body  # not JSON Datasette wrote: left alone
        data = lines
    objects, arrays, columns = _rows_of(data)
    id_at = columns.index("id") if columns and "id" in columns else None
    ids = [row.get("id") for row in objects] + ([row[id_at] for row in arrays] if id_at is not None else [])
    ids = [i for i in map(_int, ids) if i is not None]
    if not ids:
        return body
    found = await db.execute_fn(lambda conn: passages(conn, search, ids))
    for row in objects:
        row[SNIPPET] = found.get(_int(row.get("id")), "")
    if id_at is not None:
        for row in arrays:
            row.append(found.get(_int(row[id_at]), ""))
        columns.append(SNIPPET)
    elif columns is not None and objects:
        columns.append(SNIPPET)
    if lines is not None:
        return "".join(json.dumps(line) + "\n" for line in lines).encode("utf-8")
    return json.dumps(data).encode("utf-8")


def _rows_of(data):
    """(rows that are objects, rows that are arrays, the arrays' column list
    or None) of a JSON answer."""
    if isinstance(data, list):
        return [r for r in data if isinstance(r, dict)], [], None
    if not isinstance(data, dict):
        return [], [], None
    rows = data.get("rows")
    if isinstance(rows, list):
        columns = data.get("columns") if isinstance(data.get("columns"), list) else None
        objects = [r for r in rows if isinstance(r, dict)]
        arrays = [r for r in rows if isinstance(r, list)]
        return objects, arrays, columns
    values = list(data.values())
    if values and all(isinstance(v, dict) for v in values):  # ?_shape=object
        return values, [], None
    return [], [], None
