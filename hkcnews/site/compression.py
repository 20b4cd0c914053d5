"""gzip for the archive's pages and downloads, when the client accepts it:
pages at level 4, whole downloads (CSV, JSON lines) at level 1.

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

# Pages at level 4, nearly level 6's size for two thirds of its CPU; whole
# downloads at level 1, a third of level 6's CPU for a file a fifth larger,
# since a download of every article is compressed as it streams
# (docs/benchmarks.md has the figures).
PAGE_LEVEL = 4
DOWNLOAD_LEVEL = 1
DOWNLOAD_SUFFIXES = (".csv", ".jsonl")


def accepts_gzip(scope):
    """Whether the request's Accept-Encoding names gzip (as asgi-gzip reads it)."""
    return any(name == b"accept-encoding" and b"gzip" in value for name, value in scope.get("headers", []))


class Compression:
    """ASGI middleware: gzip for archive responses."""

    def __init__(self, app, datasette):
        self.app = app
        self.datasette = datasette
        self.pages = GZipMiddleware(app, minimum_size=500, compresslevel=PAGE_LEVEL)
        self.downloads = GZipMiddleware(app, minimum_size=500, compresslevel=DOWNLOAD_LEVEL)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not await archive_in_path(self.datasette, scope["path"]):
            return await self.app(scope, receive, send)
        gzip = self.downloads if scope["path"].endswith(DOWNLOAD_SUFFIXES) else self.pages
        await gzip(scope, receive, send)
