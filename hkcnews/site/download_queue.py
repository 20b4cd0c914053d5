"""Whole-result downloads wait their turn, so that readers' pages do not.

A table's CSV and JSON-lines downloads stream every matching row, a query
per thousand rows: a one-character search's is the whole search again and
again, for seconds. Run side by side, twenty of them took the SQL threads
and the CPU from every reader. Each server process runs RUNNING of them
at once; up to WAITING more wait in turn, and a request beyond those is
answered 429 with Retry-After at once, never started and cut short.

The concordance, collocates and keywords pages (and their downloads) read
the text of every article they match, up to seconds of CPU each: they take
their turn in the same queue. A page the cache holds is served before it.

Written here: no Datasette setting or plugin limits concurrent requests.
"""

import asyncio
import re
import weakref

from datasette.utils import tilde_decode
from datasette.utils.asgi import Response

from hkcnews.ours import archive_in_path

RUNNING = 1
WAITING = 16
RETRY_AFTER_SECONDS = 30
DOWNLOAD_SUFFIXES = (".csv", ".jsonl")
_LANGUAGE_PAGE = re.compile(r"/[^/]+/-/(?:concordance|collocates|keywords)(?:\.csv|\.jsonl)?")
TOO_MANY = (
    "Too many downloads at once: this server runs {running} and queues {waiting} more per process. "
    "Try again in {retry} seconds."
)


async def is_download(datasette, scope):
    """Whether a request is a table's whole-result download of an archive,
    /db/table.csv (hkcnews/site/downloads.py makes it stream) or
    /db/table.jsonl, or one of its language pages."""
    if scope["type"] != "http":
        return False
    if _LANGUAGE_PAGE.fullmatch(scope["path"]):
        return bool(await archive_in_path(datasette, scope["path"]))
    parts = scope["path"].strip("/").split("/")
    if len(parts) != 2 or b"_trace=" in scope.get("query_string", b""):
        return False
    name = tilde_decode(parts[1])
    suffix = next((s for s in DOWNLOAD_SUFFIXES if name.endswith(s)), None)
    db = suffix and await archive_in_path(datasette, scope["path"])
    return bool(db) and name[: -len(suffix)] in await db.table_names()


class _Turns:
    """The downloads of one Datasette: those running, those waiting."""

    def __init__(self):
        self.running = asyncio.Semaphore(RUNNING)
        self.waiting = 0


# One per Datasette, not per wrapper: Datasette 1.0's datasette.client
# builds its app, and so this wrapper, anew for every request.
_TURNS = weakref.WeakKeyDictionary()


class DownloadQueue:
    """ASGI middleware: at most RUNNING downloads at once, WAITING in turn."""

    def __init__(self, app, datasette):
        self.app = app
        self.datasette = datasette
        self.turns = _TURNS.setdefault(datasette, _Turns())

    async def __call__(self, scope, receive, send):
        if not await is_download(self.datasette, scope):
            return await self.app(scope, receive, send)
        turns = self.turns
        if turns.running.locked() and turns.waiting >= WAITING:
            message = TOO_MANY.format(running=RUNNING, waiting=WAITING, retry=RETRY_AFTER_SECONDS)
            response = Response.text(message + "\n", status=429, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
            return await response.asgi_send(send)
        turns.waiting += 1
        try:
            await turns.running.acquire()
        finally:
            turns.waiting -= 1
        try:
            await self.app(scope, receive, send)
        finally:
            turns.running.release()
