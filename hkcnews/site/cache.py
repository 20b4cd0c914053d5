"""Pages of an immutable archive kept in memory, for the readers who ask
the same popular searches again and again.

A search for a word in most articles costs Datasette about ten queries
over every hit (the count, each facet, the rows), 150-250 ms on 58,000
articles; served again from memory it costs a dictionary lookup. The file
of an immutable database cannot change while served, so a page's bytes
depend only on its URL, until the server restarts on a new build.

Written as an ASGI wrapper (Datasette's asgi_wrapper hook) rather than
with a caching library: the maintained ones cache by HTTP headers for any
app, and the rule here is Datasette's own, which database a URL reads and
whether that file is immutable.
"""

import weakref
from collections import OrderedDict

from hkcnews.ours import archive_in_path
from hkcnews.site.compression import accepts_gzip

# Per server process. A page of 50 articles is about 100 KB (a sixth of
# that gzipped); a CSV of a search's first 1,000 articles, bodies included,
# 2.5-3.5 MB. The popular pages are a few hundred; a count as well as a
# size keeps a cache of small gzipped pages from growing a worker for
# thousands of pages before it is full.
MAX_BYTES = 128 * 1024**2
MAX_PAGES = 1000
MAX_PAGE_BYTES = 4 * 1024**2
CACHE_HEADER = (b"x-hkcnews-cache", b"hit")
# What the cache puts in a request's ASGI scope: a dict shared by the
# copies of the scope that Datasette's router makes, so that code computing
# the page can say it is not whole (a facet timed out, as it may while the
# server is busy): such a page is served, not kept.
PAGE = "hkcnews.page"
# Marks a request the archive makes of itself (a page of a JSON-lines
# download, hkcnews/site/jsonl.py): computed for one reader, never asked again.
INTERNAL_HEADER = "x-hkcnews-internal"


def do_not_keep(request):
    """Marks the page of a Datasette request as one the cache must not keep."""
    page = request.scope.get(PAGE)
    if page is not None:
        page["keep"] = False


class PageCache:
    """ASGI middleware: GET responses with status 200 under /<database>/
    of an immutable database built by build_db.py, least recently used
    first out, gzipped and not kept apart. Requests with cookies or
    credentials, and responses that set a cookie, pass through: their
    pages may differ by reader. So does a page marked with do_not_keep,
    and a request the archive makes of itself."""

    def __init__(self, app, datasette):
        self.app = app
        self.datasette = datasette
        # One store per Datasette, not per wrapper: Datasette 1.0's
        # datasette.client builds its app, and so this wrapper, anew for
        # every request.
        self.store = _STORES.setdefault(datasette, _Store())

    async def __call__(self, scope, receive, send):
        if not await self._cacheable(scope):
            return await self.app(scope, receive, send)
        # The page's bytes depend on its URL and on whether they are
        # gzipped (hkcnews/site/compression.py, inside this wrapper); the host
        # and scheme are the configured ones (hkcnews/site/address.py, outside).
        key = (scope["path"], scope.get("query_string", b""), accepts_gzip(scope))
        page = self.store.pages.get(key)
        if page is not None:
            self.store.pages.move_to_end(key)
            status, headers, body = page
            await send({"type": "http.response.start", "status": status, "headers": headers + [CACHE_HEADER]})
            await send({"type": "http.response.body", "body": body})
            return
        start, chunks, size = None, [], 0
        computed = {"keep": True}
        scope = {**scope, PAGE: computed}

        async def keep(message):
            nonlocal start, size
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
                if size <= MAX_PAGE_BYTES:  # a longer one passes through
                    chunks.append(message.get("body", b""))
                    if not message.get("more_body") and computed["keep"]:
                        self.store.keep(key, start, b"".join(chunks))
            await send(message)

        await self.app(scope, receive, keep)

    async def _cacheable(self, scope):
        if scope["type"] != "http" or scope["method"] != "GET":
            return False
        if any(name in (b"cookie", b"authorization", INTERNAL_HEADER.encode()) for name, _ in scope.get("headers", [])):
            return False
        db = await archive_in_path(self.datasette, scope["path"])
        return db is not None and not db.is_mutable


class _Store:
    """The pages kept for one Datasette, least recently used first."""

    def __init__(self):
        self.pages = OrderedDict()
        self.size = 0

    def keep(self, key, start, body):
        headers = list(start.get("headers", []))
        if start["status"] != 200 or any(name.lower() == b"set-cookie" for name, _ in headers):
            return
        if key in self.pages:  # computed twice at once: kept once
            self.size -= len(self.pages.pop(key)[2])
        self.pages[key] = (start["status"], headers, body)
        self.size += len(body)
        while self.size > MAX_BYTES or len(self.pages) > MAX_PAGES:
            _, (_, _, evicted) = self.pages.popitem(last=False)
            self.size -= len(evicted)


_STORES = weakref.WeakKeyDictionary()
