"""gzip for the archive's pages and downloads, when the client accepts it.

asgi-gzip (Starlette's GZipMiddleware on its own, kept by Datasette's
author, no dependencies; datasette-gzip is this package behind a hook)
over the archive's paths only: HTML, JSON, CSV and JSON lines shrink six
to eight times, and a streamed download is compressed piece by piece as it
streams. The database file is never compressed (hkcnews/site/database_file.py
answers it before this middleware), nor anything outside the archive.
starlette-compress (Brotli, zstd) would bring Starlette, Brotli and
zstandard, and needs Python 3.11.
"""

from asgi_gzip import GZipMiddleware

from hkcnews.ours import archive_in_path

# zlib's default: within a few per cent of level 9's size at a third of its CPU.
LEVEL = 6


def accepts_gzip(scope):
    """Whether the request's Accept-Encoding names gzip (as asgi-gzip reads it)."""
    return any(name == b"accept-encoding" and b"gzip" in value for name, value in scope.get("headers", []))


class Compression:
    """ASGI middleware: gzip for archive responses."""

    def __init__(self, app, datasette):
        self.app = app
        self.datasette = datasette
        self.gzip = GZipMiddleware(app, minimum_size=500, compresslevel=LEVEL)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and await archive_in_path(self.datasette, scope["path"]):
            return await self.gzip(scope, receive, send)
        await self.app(scope, receive, send)
