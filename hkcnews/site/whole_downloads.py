"""A table's whole result as one download, CSV or JSON lines, read once.

/<db>/<table>.csv (streamed: ?_stream=on, or no page named, as
hkcnews/site/downloads.py explains) and /<db>/<table>.jsonl hold every row
the table page's filters, search and sort select. The query is Datasette's
own: the table's JSON for one row says what SQL and parameters the page
runs (its filters, the archive's search clause, its sort, and Datasette's
permission checks on the way), and that SQL without its limit is run once,
by hkcnews/site/export.py in a process of its own at the lowest CPU
priority, whose output is streamed as it comes. A search's download has a
snippet column (hkcnews/site/snippets.py) after the table's.

A download is bounded by its turn in the queue (download_queue.py), by
DOWNLOAD_SECONDS, and by the result itself; one asked again is read from
the disk without a turn (kept_downloads.py), and one asked while another
request computes it follows that one. The page
limits (sql_time_limit_ms, max_returned_rows) are a page's, not a
download's. One that fails after its first byte breaks the connection, so
that it is seen to be incomplete (downloads.py).

Written here because Datasette's stream runs the page's query again for
every max_returned_rows rows, and no plugin streams a table otherwise.
"""

import asyncio
import json
import os
import re
import sys
from urllib.parse import parse_qsl, urlencode

from datasette.utils import MultiParams, add_cors_headers, tilde_decode
from datasette.utils.asgi import Response

from hkcnews.ours import ARTICLES, archive_in_path
from hkcnews.site.cache import INTERNAL_HEADER
from hkcnews.site.compression import accepts_gzip
from hkcnews.site.download_queue import Turns, downloads_folder, refusal
from hkcnews.site.downloads import IncompleteDownload
from hkcnews.site.kept_downloads import Incomplete, Kept
from hkcnews.site.snippets import search_of

CONTENT_TYPES = {"csv": "text/plain; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}
DOWNLOAD_CONTENT_TYPE = "text/csv; charset=utf-8"  # a CSV asked for as a file (?_dl=1)
# Far above the longest whole download (every article with its body, on
# two busy cores); past it the download is broken off.
DOWNLOAD_SECONDS = 600
# Pieces of up to a megabyte: each costs the middleware outside and uvicorn
# once, so that relaying a file of hundreds of megabytes is not its cost.
READ_BYTES = 1024 * 1024
# Arguments of the download itself, not of the rows it holds.
OWN_ARGS = {"_next", "_size", "_shape", "_format", "_extra", "_nofacet", "_nocount", "_nosuggest", "_stream", "_dl"}
OWN_ARGS |= {"_header", "_ttl"}
PROBE_ARGS = {"_size": "1", "_shape": "objects", "_nofacet": "1", "_nocount": "1", "_nosuggest": "1", "_extra": "query"}
PASSED_HEADERS = (b"cookie", b"authorization")
# export.py's main in a process of its own. It needs the site's connections
# and passages, not the plugin's hooks: the package's __init__ imports
# Datasette's views, a third of a second before the first byte, so the
# package is put in place as a bare namespace first. (-c rather than -m,
# which would import the package.)
EXPORT_COMMAND = """
import sys, types, hkcnews
site = types.ModuleType("hkcnews.site")
site.__path__ = [hkcnews.__path__[0] + "/site"]
sys.modules["hkcnews.site"] = site
from hkcnews.site.export import main
sys.exit(main())
"""
_LIMIT = re.compile(r"\s+limit\s+\d+\s*$", re.I)


def download_format(datasette, scope):
    """``csv`` or ``jsonl`` for a request for a table's whole result, by
    its address alone; else None. A CSV that names a page (?_next=, a
    numeric ?_size=), labels or a trace stays Datasette's."""
    if scope["type"] != "http" or scope["method"] != "GET":
        return None
    parts = scope["path"].strip("/").split("/")
    if len(parts) != 2 or not parts[1].endswith((".csv", ".jsonl")):
        return None
    args = dict(parse_qsl(_query_string(scope), keep_blank_values=True))
    if "_trace" in args:
        return None
    if parts[1].endswith(".jsonl"):
        return "jsonl"
    if not datasette.setting("allow_csv_stream") or "_next" in args or "_labels" in args:
        return None
    return "csv" if args.get("_size", "max") == "max" else None


class WholeDownloads:
    """ASGI middleware: a table's whole result, read once (see above)."""

    def __init__(self, app, datasette):
        self.app = app
        self.datasette = datasette
        self.turns = Turns(downloads_folder(datasette))

    async def __call__(self, scope, receive, send):
        fmt = download_format(self.datasette, scope)
        db = fmt and await archive_in_path(self.datasette, scope["path"])
        table = db and tilde_decode(scope["path"].strip("/").split("/")[1].rsplit(".", 1)[0])
        if not db or table not in await db.table_names():
            return await self.app(scope, receive, send)
        if fmt == "csv" and await _has_blobs(db, table):
            # Datasette's CSV, which writes each blob as a link to it, in turn.
            return await self._in_turn(self.app(scope, receive, send), send)
        answer, query = await self._query(db, table, scope)
        if query is None:
            # Datasette's own answer (a bad filter's 400, a 403): the CSV
            # asks Datasette again for its form of it; JSON lines get the JSON.
            if fmt == "csv":
                return await self.app(scope, receive, send)
            headers = {"content-type": "application/json; charset=utf-8"}
            return await Response(answer.text, status=answer.status_code, headers=headers).asgi_send(send)
        args = MultiParams(parse_qsl(_query_string(scope), keep_blank_values=True))
        spec = {
            **query,
            "path": db.path,
            "immutable": not db.is_mutable,
            "format": fmt,
            "search": search_of(args) if table == ARTICLES else None,
            "header": args.get("_header") != "off",
            "gzip": accepts_gzip(scope),
            "max_bytes": (self.datasette.setting("max_csv_mb") or 0) * 1024 * 1024 if fmt == "csv" else 0,
        }
        await self._answer(Kept(self.datasette, db.path, spec), spec, scope, send, table)

    async def _answer(self, kept, spec, scope, send, table):
        # Twice at most: a download followed whose writer failed before its
        # first byte is then written by this request.
        for _ in range(2):
            if os.path.exists(kept.done) or kept.writing():
                try:
                    return await self._send_kept(kept, spec, scope, send, table)
                except Incomplete:
                    continue
            turn, refused = await self.turns.turn()
            if turn is None:
                return await refusal(refused).asgi_send(send)
            try:
                file = kept.start_writing()
                if file is not None:
                    return await self._stream(spec, scope, send, table, kept, file)
            finally:
                self.turns.give_back(turn)
        raise IncompleteDownload(f"{scope['path']}: the downloads it followed failed")

    async def _in_turn(self, answer, send):
        turn, refused = await self.turns.turn()
        if turn is None:
            answer.close()
            return await refusal(refused).asgi_send(send)
        try:
            await answer
        finally:
            self.turns.give_back(turn)

    async def _send_kept(self, kept, spec, scope, send, table):
        """The download from its kept file. Raises Incomplete when the one it
        follows failed before this sent anything."""
        started = False
        try:
            async for piece in kept.pieces():
                if not started:
                    await send(
                        {"type": "http.response.start", "status": 200, "headers": self._headers(spec, scope, table)}
                    )
                    started = True
                await send({"type": "http.response.body", "body": piece, "more_body": True})
        except Incomplete as failed:
            if started:
                raise IncompleteDownload(f"{scope['path']}: {failed}") from None
            raise
        if not started:
            await send({"type": "http.response.start", "status": 200, "headers": self._headers(spec, scope, table)})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _query(self, db, table, scope):
        """(Datasette's answer to the table's JSON for one row, {"sql", "params"}
        of the whole result or None when it has none)."""
        query = [(k, v) for k, v in parse_qsl(_query_string(scope), keep_blank_values=True) if k not in OWN_ARGS]
        url = (
            f"{self.datasette.urls.table(db.name, table, format='json')}?{urlencode(query + list(PROBE_ARGS.items()))}"
        )
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", []) if k in PASSED_HEADERS}
        headers.update({"accept-encoding": "identity", INTERNAL_HEADER: "1"})
        answer = await self.datasette.client.get(url, headers=headers)
        if answer.status_code != 200:
            return answer, None
        query = answer.json().get("query") or {}
        sql = query.get("sql") or ""
        if not _LIMIT.search(sql):
            raise RuntimeError(f"{url}: Datasette's query of the table page has no limit to remove: {sql}")
        return answer, {"sql": _LIMIT.sub("", sql), "params": query.get("params") or {}}

    async def _stream(self, spec, scope, send, table, kept, file):
        """The export run, its output sent and written to ``file`` as it comes."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            EXPORT_COMMAND,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=READ_BYTES,
        )
        # Read beside standard output, so that neither pipe fills while the other is read.
        errors = asyncio.ensure_future(process.stderr.read())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DOWNLOAD_SECONDS
        started = complete = False
        try:
            process.stdin.write(json.dumps(spec).encode())
            process.stdin.close()
            while True:
                piece = await asyncio.wait_for(process.stdout.read(READ_BYTES), deadline - loop.time())
                if not piece:
                    break
                if not started:
                    await send(
                        {"type": "http.response.start", "status": 200, "headers": self._headers(spec, scope, table)}
                    )
                    started = True
                await loop.run_in_executor(None, file.write, piece)
                await send({"type": "http.response.body", "body": piece, "more_body": True})
            error = (await errors).decode("utf-8", "replace").strip()
            if await process.wait() != 0:
                if not started:
                    message = f"{scope['path']}: the download could not be read: {error}\n"
                    return await Response.text(message, status=400).asgi_send(send)
                raise IncompleteDownload(f"{scope['path']}: {error}")
            complete = True
            if not started:  # the export wrote nothing at all (a JSON lines file of no rows)
                await send({"type": "http.response.start", "status": 200, "headers": self._headers(spec, scope, table)})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.TimeoutError:
            raise IncompleteDownload(f"{scope['path']}: longer than {DOWNLOAD_SECONDS} s") from None
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
            errors.cancel()
            kept.finish_writing(file, complete)

    def _headers(self, spec, scope, table):
        args = MultiParams(parse_qsl(_query_string(scope), keep_blank_values=True))
        content_type = CONTENT_TYPES[spec["format"]]
        headers = {}
        if spec["format"] == "csv" and args.get("_dl"):
            content_type = DOWNLOAD_CONTENT_TYPE
            headers["content-disposition"] = f'attachment; filename="{table}.csv"'
        if spec["gzip"]:
            headers.update({"content-encoding": "gzip", "vary": "Accept-Encoding"})
        if self.datasette.cors:
            add_cors_headers(headers)
        headers["content-type"] = content_type
        return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


async def _has_blobs(db, table):
    columns = await db.execute("select type from pragma_table_info(?)", [table])
    return any("blob" in (row[0] or "").lower() for row in columns.rows)


def _query_string(scope):
    return scope.get("query_string", b"").decode("utf-8", "replace")
