"""Whole-result downloads wait their turn, so that readers' pages do not.

A table's CSV and JSON-lines downloads read every matching row, seconds of
CPU for a one-character search (hkcnews/site/whole_downloads.py, which
takes their turns here, and needs none for a download kept on disk). Run
side by side, twenty of them took the CPU from every reader. A server runs
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
(config.DOWNLOADS_VARIABLE), else one per Datasette. A lock is the
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

from datasette.utils.asgi import Response

from hkcnews.config import DOWNLOADS_VARIABLE
from hkcnews.ours import archive_in_path

RUNNING = 2
WAITING = 8
WAIT_SECONDS = 45
POLL_SECONDS = 0.05
RETRY_AFTER_SECONDS = 30
_LANGUAGE_PAGE = re.compile(r"/[^/]+/-/(?:concordance|collocates|keywords)(?:\.csv|\.jsonl)?")
TOO_MANY = (
    "Too many downloads at once: this server runs {running} and queues {waiting} more. Try again in {retry} seconds."
)
WAITED_TOO_LONG = (
    "Too many downloads at once: this one waited {waited} seconds for its turn without starting. "
    "Try again in {retry} seconds."
)


async def is_language_page(datasette, scope):
    """Whether a request is one of an archive's language pages (or their
    downloads), which read every article they match. A table's whole
    downloads take their turn in hkcnews/site/whole_downloads.py, which
    first looks for them on disk."""
    if scope["type"] != "http" or not _LANGUAGE_PAGE.fullmatch(scope["path"]):
        return False
    return bool(await archive_in_path(datasette, scope["path"]))


def refusal(message):
    """The 429 of a download refused its turn."""
    return Response.text(message + "\n", status=429, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


class Turns:
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


def downloads_folder(datasette):
    """The folder a server's processes share their downloads in: their turns
    here, the downloads kept (hkcnews/site/kept_downloads.py)."""
    named = os.environ.get(DOWNLOADS_VARIABLE)
    if named:
        return named
    if datasette not in _FOLDERS:
        _FOLDERS[datasette] = tempfile.TemporaryDirectory(prefix="hkcnews-downloads-")
    return _FOLDERS[datasette].name


class DownloadQueue:
    """ASGI middleware: the language pages in turn with the downloads."""

    def __init__(self, app, datasette):
        self.app = app
        self.datasette = datasette
        self.turns = Turns(downloads_folder(datasette))

    async def __call__(self, scope, receive, send):
        if not await is_language_page(self.datasette, scope):
            return await self.app(scope, receive, send)
        fd, refused = await self.turns.turn()
        if fd is None:
            return await refusal(refused).asgi_send(send)
        try:
            await self.app(scope, receive, send)
        finally:
            self.turns.give_back(fd)
