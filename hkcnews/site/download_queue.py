"""Whole-result downloads wait their turn, so that readers' pages do not.

A table's CSV and JSON-lines downloads read every matching row, seconds of
CPU for a one-character search (hkcnews/site/whole_downloads.py). Run side
by side, twenty of them took the CPU from every reader. A server runs
RUNNING of them at once, however many processes it has; up to WAITING more
wait in turn, and a request beyond those is answered 429 with Retry-After
at once, never started and cut short. One that waits WAIT_SECONDS without
its turn gets the same 429 then: a reader's client gives up on a download
that sends no byte for a minute.

The concordance, collocates and keywords pages (and their downloads) read
the text of every article they match, up to seconds of CPU each: they take
their turn in the same queue. A page the cache holds is served before it.

The turns are files locked with flock(2) in one folder per server: the
folder python -m hkcnews.serve makes and names to its processes
(config.DOWNLOAD_QUEUE_VARIABLE), else one per Datasette. A lock is the
kernel's, so a process that dies gives its turns back. Written here: no
Datasette setting or plugin limits concurrent requests, and asyncio's
locks are one process's.
"""

import asyncio
import fcntl
import os
import re
import tempfile
import weakref

from datasette.utils import tilde_decode
from datasette.utils.asgi import Response

from hkcnews.config import DOWNLOAD_QUEUE_VARIABLE
from hkcnews.ours import archive_in_path

RUNNING = 2
WAITING = 8
WAIT_SECONDS = 45
POLL_SECONDS = 0.05
RETRY_AFTER_SECONDS = 30
DOWNLOAD_SUFFIXES = (".csv", ".jsonl")
_LANGUAGE_PAGE = re.compile(r"/[^/]+/-/(?:concordance|collocates|keywords)(?:\.csv|\.jsonl)?")
TOO_MANY = (
    "Too many downloads at once: this server runs {running} and queues {waiting} more. Try again in {retry} seconds."
)
WAITED_TOO_LONG = (
    "Too many downloads at once: this one waited {waited} seconds for its turn without starting. "
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
    """The turns of one server: RUNNING files to run, WAITING to wait, in
    ``folder``."""

    def __init__(self, folder):
        self.running = [os.path.join(folder, f"running-{n}") for n in range(RUNNING)]
        self.waiting = [os.path.join(folder, f"waiting-{n}") for n in range(WAITING)]

    @staticmethod
    def take(paths):
        """The descriptor of the first of ``paths`` this takes the lock of, or None."""
        for path in paths:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                os.close(fd)
        return None

    @staticmethod
    def give_back(fd):
        os.close(fd)  # which releases its lock

    async def turn(self):
        """(the descriptor of a running turn, None) once this request has
        one; (None, why not) when the queue is full or the wait passes
        WAIT_SECONDS."""
        fd = self.take(self.running)
        if fd is not None:
            return fd, None
        place = self.take(self.waiting)
        if place is None:
            return None, TOO_MANY.format(running=RUNNING, waiting=WAITING, retry=RETRY_AFTER_SECONDS)
        try:
            for _ in range(round(WAIT_SECONDS / POLL_SECONDS)):
                await asyncio.sleep(POLL_SECONDS)
                fd = self.take(self.running)
                if fd is not None:
                    return fd, None
            return None, WAITED_TOO_LONG.format(waited=WAIT_SECONDS, retry=RETRY_AFTER_SECONDS)
        finally:
            self.give_back(place)


# One folder per Datasette where the server names none; not per wrapper:
# Datasette 1.0's datasette.client builds its app, and so this wrapper,
# anew for every request.
_FOLDERS = weakref.WeakKeyDictionary()


def _folder(datasette):
    named = os.environ.get(DOWNLOAD_QUEUE_VARIABLE)
    if named:
        return named
    if datasette not in _FOLDERS:
        _FOLDERS[datasette] = tempfile.TemporaryDirectory(prefix="hkcnews-downloads-")
    return _FOLDERS[datasette].name


class DownloadQueue:
    """ASGI middleware: at most RUNNING downloads at once, WAITING in turn."""

    def __init__(self, app, datasette):
        self.app = app
        self.datasette = datasette
        self.turns = _Turns(_folder(datasette))

    async def __call__(self, scope, receive, send):
        if not await is_download(self.datasette, scope):
            return await self.app(scope, receive, send)
        fd, refused = await self.turns.turn()
        if fd is None:
            headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
            return await Response.text(refused + "\n", status=429, headers=headers).asgi_send(send)
        try:
            await self.app(scope, receive, send)
        finally:
            self.turns.give_back(fd)
