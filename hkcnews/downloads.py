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
page (a numeric ?_size= or a ?_next=) keeps that page.

Written here because no Datasette setting or hook turns that line into an
error, or makes a table's CSV link stream; it applies only to databases
build_db.py made.
"""
from urllib.parse import parse_qs

from datasette.utils import tilde_decode

from .ours import archive_in_path


class IncompleteDownload(Exception):
    """Raised to break the connection of a CSV that ended early."""


class CompleteCsv:
    """ASGI middleware over Datasette for the archive's CSV responses."""

    def __init__(self, app, datasette):
        self.app = app
        self.datasette = datasette

    async def __call__(self, scope, receive, send):
        if not await self._archive_csv(scope):
            return await self.app(scope, receive, send)
        if await self._first_page_of_a_table(scope):
            query = scope["query_string"]
            scope = {**scope, "query_string": query + (b"&" if query else b"") + b"_stream=on"}
        status, held, cut = None, None, None

        async def hold_back(message):
            nonlocal status, held, cut
            if message["type"] == "http.response.start":
                status = message["status"]
            if message["type"] != "http.response.body" or status != 200:
                return await send(message)
            if message.get("body"):
                if held is not None:
                    await send(held)
                held = {"type": "http.response.body", "body": message["body"], "more_body": True}
            if not message.get("more_body"):
                if held is not None and _cut_short(held["body"]):
                    cut = held["body"].decode("utf-8", "replace")
                    return  # the response is never completed
                if held is not None:
                    await send(held)
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        await self.app(scope, receive, hold_back)
        if cut is not None:
            # Raised outside Datasette, whose error page cannot follow a
            # started response: the server closes the connection.
            raise IncompleteDownload(cut)

    async def _first_page_of_a_table(self, scope):
        args = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if "_stream" in args or "_next" in args or args.get("_size", ["max"])[0] != "max":
            return False
        if not self.datasette.setting("allow_csv_stream"):
            return False
        parts = scope["path"].strip("/").split("/")
        if len(parts) != 2:
            return False
        db = await archive_in_path(self.datasette, scope["path"])
        return tilde_decode(parts[1][: -len(".csv")]) in await db.table_names()

    async def _archive_csv(self, scope):
        if scope["type"] != "http" or scope["method"] != "GET":
            return False
        # /news/articles.csv, /news/search.csv (a canned query), /news.csv?sql=
        if not scope["path"].endswith(".csv") or b"_trace=" in scope.get("query_string", b""):
            return False
        return await archive_in_path(self.datasette, scope["path"]) is not None


def _cut_short(piece):
    # A CSV Datasette completed ends with a row's CRLF (its header at least).
    return not piece.endswith(b"\r\n")
