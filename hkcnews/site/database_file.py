"""The archive's database file as a download that a browser can show
progress for and curl can resume: Content-Length, Accept-Ranges, an ETag
and Last-Modified, 206 Partial Content for a Range, and HEAD.

Datasette sends /news.db chunked with an ETag only, and answers a Range
request with the whole file (its issues #2317 and #2663), so a broken
download of 589 MB starts again from zero. This middleware answers GET
and HEAD of an archive's /<database>.db for a visitor without
credentials, after the same checks as Datasette's own view (the
allow_download setting, an immutable file, the download permission);
requests with cookies or credentials, and every other database, get
Datasette's own answer.

Written here: no Datasette setting or plugin serves ranges.
"""

import asyncio
import email.utils
import os
import re

from datasette.utils import tilde_decode
from datasette.utils.asgi import Forbidden

from hkcnews.compat import ensure_can_download
from hkcnews.ours import archive_in_path

CHUNK = 1024 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def byte_range(header, size):
    """(start, end) inclusive for a Range header on a file of ``size``
    bytes; None to send the whole file (no header, or a form this does not
    serve, such as several ranges); "unsatisfiable" for a range past the end."""
    match = _RANGE.match((header or "").strip())
    if not match or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":  # the last N bytes
        length = int(last)
        if length == 0:
            return "unsatisfiable"
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        return "unsatisfiable"
    return start, end


class DatabaseFile:
    """ASGI middleware: /<database>.db of an archive, with ranges."""

    def __init__(self, app, datasette):
        self.app = app
        self.datasette = datasette

    async def __call__(self, scope, receive, send):
        db = await self._downloadable(scope)
        if db is None:
            return await self.app(scope, receive, send)
        stat = os.stat(db.path)
        etag = f'"{db.hash}"' if db.hash else f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'
        last_modified = email.utils.formatdate(stat.st_mtime, usegmt=True)
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        common = [
            (b"accept-ranges", b"bytes"),
            (b"etag", etag.encode()),
            (b"last-modified", last_modified.encode()),
            (b"content-type", b"application/octet-stream"),
            (b"content-disposition", f'attachment; filename="{os.path.basename(db.path)}"'.encode()),
        ]
        if headers.get("if-none-match") == etag:
            return await _start(send, 304, common, b"")
        wanted = byte_range(headers.get("range"), stat.st_size)
        if_range = headers.get("if-range")
        if wanted is not None and if_range and if_range not in (etag, last_modified):
            wanted = None  # the file changed since the part the client has: all of it
        if wanted == "unsatisfiable":
            return await _start(send, 416, [*common, (b"content-range", f"bytes */{stat.st_size}".encode())], b"")
        if wanted is None:
            status, (start, end), extra = 200, (0, stat.st_size - 1), []
        else:
            status, (start, end) = 206, wanted
            extra = [(b"content-range", f"bytes {start}-{end}/{stat.st_size}".encode())]
        length = end - start + 1
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*common, *extra, (b"content-length", str(length).encode())],
            }
        )
        if scope["method"] == "HEAD" or length == 0:
            return await send({"type": "http.response.body", "body": b""})
        with open(db.path, "rb") as file:
            file.seek(start)
            left = length
            while left > 0:
                piece = await asyncio.to_thread(file.read, min(CHUNK, left))
                if not piece:
                    break  # the file shrank: the connection ends short of Content-Length
                left -= len(piece)
                await send({"type": "http.response.body", "body": piece, "more_body": left > 0})

    async def _downloadable(self, scope):
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return None
        path = scope["path"]
        if path.count("/") != 1 or not path.endswith(".db"):
            return None
        if any(name in (b"cookie", b"authorization") for name, _ in scope.get("headers", [])):
            return None
        db = await archive_in_path(self.datasette, path)
        if db is None or db.is_mutable or not db.path or not self.datasette.setting("allow_download"):
            return None
        if tilde_decode(path[1 : -len(".db")]) != db.route:
            return None
        try:
            await ensure_can_download(self.datasette, None, db.name)
        except Forbidden:
            return None  # Datasette's own view says so
        return db


async def _start(send, status, headers, body):
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
