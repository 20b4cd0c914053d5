"""CSV downloads of an archive that are complete, or fail where a person and
a script both see it.

Datasette streams a CSV with status 200 before it knows how it ends; when
it stops early (over max_csv_mb, or a page's query over the SQL time
limit) it writes the error's text as the file's last line and ends the
response normally, so a download that lost rows looks complete. Every row
Datasette writes ends with CRLF and that line does not, so this wrapper
holds each piece back until the next one arrives, and when the last piece
of a CSV is such a line it breaks the connection instead of sending it: the
transfer is incomplete, which curl reports (exit status 18) and a browser
shows as a failed download.

A table's CSV without ?_stream= holds its first page of rows (up to
max_returned_rows) with status 200 and no sign that more matched, so such
a request is answered as if it had asked ?_stream=on: the CSV link of a
search page downloads every article it found. A request that names its
page (a numeric ?_size= or a ?_next=) keeps that page. A query's CSV (SQL
or a canned query) cannot stream: one that Datasette cut at
max_returned_rows rows is refused with status 400, saying why.

Written here because no Datasette setting or hook turns that line into an
error, or makes a table's CSV link stream; it applies only to databases
build_db.py made.
"""

import csv
import io
from urllib.parse import parse_qsl

from datasette.utils import derive_named_parameters, tilde_decode
from datasette.utils.asgi import Response

from hkcnews.compat import canned_query_sql
from hkcnews.ours import archive_in_path
from hkcnews.site.held import held_response

PIECE_BYTES = 64 * 1024


class IncompleteDownload(Exception):
    """Raised to break the connection of a CSV that ended early."""


class CompleteCsv:
    """ASGI middleware over Datasette for the archive's CSV responses."""

    def __init__(self, app, datasette):
        self.app = app
        self.datasette = datasette

    async def __call__(self, scope, receive, send):
        db = await self._archive_csv(scope)
        if db is None:
            return await self.app(scope, receive, send)
        if _named(scope) not in await db.table_names():
            return await self._query_csv(db, scope, receive, send)
        if self._first_page(scope):
            query = scope["query_string"]
            scope = {**scope, "query_string": query + (b"&" if query else b"") + b"_stream=on"}
        status, held, cut = None, None, None
        # Datasette writes a streamed CSV a row per message; passed on in
        # pieces of about PIECE_BYTES instead, each message costs the
        # middlewares outside (gzip, the cache, uvicorn) once per piece.
        pieces, size = [], 0

        async def flush(more_body=True):
            nonlocal pieces, size
            if pieces or not more_body:
                await send({"type": "http.response.body", "body": b"".join(pieces), "more_body": more_body})
            pieces, size = [], 0

        async def hold_back(message):
            nonlocal status, held, cut, size
            if message["type"] == "http.response.start":
                status = message["status"]
            if message["type"] != "http.response.body" or status != 200:
                return await send(message)
            if message.get("body"):
                if held is not None:
                    pieces.append(held)
                    size += len(held)
                    if size >= PIECE_BYTES:
                        await flush()
                held = message["body"]
            if not message.get("more_body"):
                if held is not None and _cut_short(held):
                    cut = held.decode("utf-8", "replace")
                    return  # the response is never completed
                if held is not None:
                    pieces.append(held)
                await flush(more_body=False)

        await self.app(scope, receive, hold_back)
        if cut is not None:
            # Raised outside Datasette, whose error page cannot follow a
            # started response: the server closes the connection.
            raise IncompleteDownload(cut)

    def _first_page(self, scope):
        args = _args(scope)
        if "_stream" in args or "_next" in args or args.get("_size", "max") != "max":
            return False
        return bool(self.datasette.setting("allow_csv_stream"))

    async def _query_csv(self, db, scope, receive, send):
        """A query's CSV (SQL, or a canned query) is one piece of at most
        max_returned_rows rows: it is held whole, and sent only if nothing
        was left out."""
        start, body = await held_response(self.app, scope, receive)
        if start["status"] == 200:
            if not body.strip():
                # Datasette writes a query's CSV even when the query failed:
                # no columns, no rows, status 200. Its JSON says why.
                error = await self._query_error(scope)
                return await Response.text(f"{error}\n", status=400).asgi_send(send)
            if _cut_short(body):
                raise IncompleteDownload(body.decode("utf-8", "replace").rsplit("\r\n", 1)[-1])
            if await self._rows_left_out(db, scope, body):
                limit = self.datasette.setting("max_returned_rows")
                message = (
                    f"{scope['path']}: this query returns more than {limit:,} rows, the most a query's "
                    "CSV holds (max_returned_rows), so the CSV would lose the rest. Take it in parts "
                    "with LIMIT and OFFSET, download a table's CSV (it holds every row), or download "
                    "the database.\n"
                )
                return await Response.text(message, status=400).asgi_send(send)
        await send(start)
        await send({"type": "http.response.body", "body": body})

    async def _query_error(self, scope):
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope.get("headers", [])}
        path = scope["path"][: -len(".csv")] + ".json"
        query = scope.get("query_string", b"").decode("latin-1")
        answer = await self.datasette.client.get(f"{path}?{query}", headers=headers)
        try:
            error = answer.json().get("error")
        except ValueError:
            error = None
        return error or f"{scope['path']}: the query gave no columns"

    async def _rows_left_out(self, db, scope, body):
        limit = self.datasette.setting("max_returned_rows")
        if not _more_lines_than(body, limit):
            return False
        args = _args(scope)
        if _named(scope) is None:
            sql = args.get("sql", "")
        else:
            sql = await canned_query_sql(self.datasette, db.name, _named(scope)) or ""
        sql = sql.strip().rstrip(";")
        params = {name: args.get(name, "") for name in await derive_named_parameters(db, sql)}
        try:
            more = await db.execute(f"select 1 from ({sql}) limit 1 offset {limit}", params)
        except Exception:
            return True  # cannot tell: a refusal is better than rows lost unsaid
        return bool(more.rows)

    async def _archive_csv(self, scope):
        """The archive database a CSV request reads, or None for any other
        request: /news/articles.csv, /news/search.csv (a canned query),
        /news.csv?sql= (/news/-/query.csv?sql= on Datasette 1.0); not the
        plugin's own (/news/-/trends.csv)."""
        if scope["type"] != "http" or scope["method"] != "GET":
            return None
        if not scope["path"].endswith(".csv") or b"_trace=" in scope.get("query_string", b""):
            return None
        if len(scope["path"].strip("/").split("/")) > 2 and not _sql_query(scope):
            return None
        return await archive_in_path(self.datasette, scope["path"])


def _more_lines_than(body, limit):
    """Whether a CSV has more than ``limit`` lines, its header included."""
    # Every line ends with CRLF (a value may hold more): fewer means fewer lines.
    if body.count(b"\r\n") <= limit:
        return False
    try:
        return sum(1 for _ in csv.reader(io.StringIO(body.decode("utf-8")))) > limit
    except csv.Error:  # a value longer than the csv module takes: let SQL decide
        return True


def _sql_query(scope):
    return scope["path"].strip("/").split("/")[1:] == ["-", "query.csv"]


def _named(scope):
    """The table or canned query of /db/name.csv; None for an SQL query's
    /db.csv or /db/-/query.csv."""
    parts = scope["path"].strip("/").split("/")
    return tilde_decode(parts[1][: -len(".csv")]) if len(parts) == 2 else None


def _args(scope):
    return dict(parse_qsl(scope.get("query_string", b"").decode("utf-8", "replace"), keep_blank_values=True))


def _cut_short(piece):
    # A CSV Datasette completed ends with a row's CRLF (its header at least).
    return not piece.endswith(b"\r\n")
