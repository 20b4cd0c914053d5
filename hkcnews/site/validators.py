"""Pages a CDN or a reverse proxy can keep: an ETag tied to the build, a
Cache-Control a shared cache honours, and a conditional GET answered 304
before anything computes the page.

The file of an immutable archive cannot change while served, so a page
depends only on its URL and on what serves it. Its ETag is a digest of:

- the build: the database file's SHA-256 (Datasette's ``db.hash``, which
  ``python -m hkcnews.serve`` reads from its inspect file, so every replica
  of one file gives the same tags; build_info names the code that built
  the file, not the build);
- the code: this package's version and the digest of its files (the
  version stays the same across commits, and a cache that revalidates
  would otherwise keep the old code's pages for ever), the Datasette
  packages' versions, and Datasette's settings;
- the request: its path, query string, scheme and Host (the configured
  public address for an archive: hkcnews/site/address.py, outside this
  wrapper) and, for an archive, whether its Accept-Encoding names gzip,
  which decides whether the bytes are gzipped (hkcnews/site/compression.py).

The tag is weak (``W/"…"``, RFC 9110 section 8.8.1): a page says how long
its queries took, so two computations of one page differ in that and in
nothing a reader means, and a strong tag promises the same bytes. It
differs between the gzipped and the plain page all the same, and the
response says ``Vary: Accept-Encoding``, so that a cache never answers one
with the other's tag.

Validated, for GET and HEAD: the pages of an immutable database build_db.py
made; the home page (``/``, ``/.json``) and datasette-search-all's
``/-/search``, which depend only on the databases served, when every one is
such an archive. Not validated, and left as Datasette answers them:

- requests with a cookie or Authorization: their pages may differ by
  reader (an actor, its permissions), Datasette marks them
  ``private, no-store``, and the page cache passes them by too;
- downloads (``.csv``, ``.jsonl``, the ``.db`` file): they stream, and
  whether a stream is whole is known only at its end (hkcnews/site/downloads.py
  breaks off one that is not), while headers go first; a shared cache
  should not hold them either (docs/public.md). The database file has
  validators of its own (hkcnews/site/database_file.py), from the same hash;
- a response that is not 200, that sets a cookie, or that streams;
- a page whose code says it is not whole (hkcnews/site/cache.py's
  do_not_keep: a facet that timed out, today's on-this-day list): it gets
  ``Cache-Control: no-cache`` instead of Datasette's max-age, so that no
  cache keeps it;
- a database that may change (served without ``-i``) and any database the
  build did not make: stock Datasette.

Written here: Datasette sends ``Cache-Control: max-age`` and no validator,
and a caching middleware would compute the page before it could compare.
"""

import asyncio
import hashlib
import importlib.metadata
import json
import re
import weakref
from pathlib import Path
from urllib.parse import parse_qs

from hkcnews.ours import archive_in_path, built_by_us
from hkcnews.site.cache import INTERNAL_HEADER, PAGE
from hkcnews.site.compression import accepts_gzip

# Browsers keep a page for Datasette's default_cache_ttl (``?_ttl=`` of the
# URL, as Datasette reads it; an hour under python -m hkcnews.serve) and
# then ask again, which costs a 304. Shared caches keep it a day: their
# operator purges them when a new build is served (docs/public.md), and past
# a day a revalidation costs them a 304 too. A new build or new code changes
# every ETag, so a revalidated page is never an old build's.
SHARED_MAX_AGE = 86400
# Pages that are not of one database but depend only on the databases served.
GLOBAL_PAGES = {"/", "/.json", "/-/search"}
DOWNLOAD_SUFFIXES = (".csv", ".jsonl")
# A response to a request without cookies or credentials must not be handed
# by a shared cache to one with them (RFC 9111 section 3.5 would allow it for a
# ``public`` response), nor a gzipped page to a client that did not ask.
VARY_ARCHIVE = ("Accept-Encoding", "Cookie", "Authorization")
VARY_GLOBAL = ("Cookie", "Authorization")
# What Validators puts in the scope: the do_not_keep marks of the request,
# its own and the page cache's (PageVerdict adds that one).
MARKS = "hkcnews.validators.marks"
_PERSONAL = {b"cookie", b"authorization", INTERNAL_HEADER.encode()}
_ENTITY_TAG = re.compile(r'(?:W/)?("[^"]*")')

_BUILDS = weakref.WeakKeyDictionary()
_SETTINGS = weakref.WeakKeyDictionary()
_CODE = []


class Validators:
    """ASGI middleware: an ETag and a shared Cache-Control on the 200s of the
    pages above, and 304 for a conditional GET or HEAD whose If-None-Match
    names the page's tag, without calling the app inside."""

    def __init__(self, app, datasette):
        self.app = app
        self.datasette = datasette

    async def __call__(self, scope, receive, send):
        validated = await self._validated(scope)
        if validated is None:
            return await self.app(scope, receive, send)
        archive, identity = validated
        tag = _etag(scope, identity, compressed=archive).encode()
        vary = ", ".join(VARY_ARCHIVE if archive else VARY_GLOBAL).encode()
        headers = [(b"etag", tag), (b"cache-control", self._cache_control(scope)), (b"vary", vary)]
        wanted = if_none_match(scope)
        if wanted is not None and wanted != "*" and _opaque(tag) in wanted:
            return await _not_modified(send, headers)
        # Otherwise the page is computed. If-None-Match: * is false when the
        # page exists, which only computing it tells (a 404 stays a 404).
        marks = [{"keep": True}]
        scope = {**scope, PAGE: marks[0], MARKS: marks}
        start, answered = None, False

        async def with_validators(message):
            nonlocal start, answered
            if answered:  # a 304 for If-None-Match: *; the page's body is dropped
                return
            if message["type"] == "http.response.start":
                start = message  # held until the body's first piece says whether it streams
                return
            if start is None:
                return await send(message)
            held, start = start, None
            verdict = _verdict(held, message, marks)
            if verdict == "validated" and wanted == "*":
                answered = True
                return await _not_modified(send, headers)
            if verdict == "validated":
                held = {**held, "headers": _with(held.get("headers", []), headers)}
            elif verdict == "not whole":
                held = {**held, "headers": _with(held.get("headers", []), [(b"cache-control", b"no-cache")])}
            await send(held)
            await send(message)

        await self.app(scope, receive, with_validators)

    async def _validated(self, scope):
        """(whether it is an archive's, the builds' identity) of a request
        this validates, or None."""
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return None
        if any(name.lower() in _PERSONAL for name, _ in scope.get("headers", [])):
            return None
        path = scope["path"]
        if path in GLOBAL_PAGES:
            names = sorted(name for name in self.datasette.databases if name != "_internal")
            dbs = [await self._archive(name) for name in names]
            if not names or None in dbs:
                return None
            return False, [*[f"{n}={await _build(db)}" for n, db in zip(names, dbs, strict=True)], self._settings()]
        if path.lstrip("/").split("/")[0].endswith(".db") or path.endswith(DOWNLOAD_SUFFIXES):
            return None
        db = await archive_in_path(self.datasette, path)
        if db is None or db.is_mutable:
            return None
        return True, [f"{db.name}={await _build(db)}", self._settings()]

    async def _archive(self, name):
        db = self.datasette.databases[name]
        if db.is_mutable or db.is_memory or not await built_by_us(self.datasette, name):
            return None
        return db

    def _settings(self):
        if self.datasette not in _SETTINGS:
            _SETTINGS[self.datasette] = json.dumps(self.datasette.settings_dict(), sort_keys=True, default=str)
        return _SETTINGS[self.datasette]

    def _cache_control(self, scope):
        ttl = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("_ttl", [""])[0]
        ttl = int(ttl) if ttl.isdigit() else int(self.datasette.setting("default_cache_ttl"))
        if ttl == 0:  # Datasette's no-cache: every use asks again, for a 304
            return b"public, no-cache"
        return f"public, max-age={ttl}, s-maxage={SHARED_MAX_AGE}".encode()


class PageVerdict:
    """ASGI middleware, just inside the page cache: gives Validators the
    page cache's do_not_keep mark of the request (the cache puts a mark of
    its own in the scope, in place of the one Validators put there)."""

    def __init__(self, app, datasette):
        self.app = app
        self.datasette = datasette

    async def __call__(self, scope, receive, send):
        marks, mark = scope.get(MARKS), scope.get(PAGE)
        if marks is not None and mark is not None and all(mark is not m for m in marks):
            marks.append(mark)
        await self.app(scope, receive, send)


def if_none_match(scope):
    """A request's If-None-Match: None without one, "*", or the set of the
    opaque tags it lists (W/ or not: a GET's comparison is the weak one)."""
    values = [value.decode("latin-1") for name, value in scope.get("headers", []) if name.lower() == b"if-none-match"]
    if not values:
        return None
    text = ", ".join(values)
    if text.strip() == "*":
        return "*"
    return {match.group(1) for match in _ENTITY_TAG.finditer(text)}


def _opaque(tag):
    return tag.decode("latin-1").removeprefix("W/")


def _etag(scope, identity, compressed):
    raw_path = scope.get("raw_path") or scope["path"].encode("utf-8")
    host = next((value for name, value in scope.get("headers", []) if name.lower() == b"host"), b"")
    parts = [
        _code(),
        *identity,
        scope.get("scheme", "http"),
        host.decode("latin-1"),
        raw_path.partition(b"?")[0].decode("latin-1"),  # httpx's raw_path carries the query
        scope.get("query_string", b"").decode("latin-1"),
        "gzip" if compressed and accepts_gzip(scope) else "identity",
    ]
    return f'W/"{hashlib.sha256(chr(0).join(parts).encode("utf-8")).hexdigest()[:32]}"'


async def _build(db):
    """The database file's SHA-256, computed once per file and process (in a
    thread: without an inspect file Datasette reads the whole file for it)."""
    if db not in _BUILDS:
        _BUILDS[db] = await asyncio.to_thread(lambda: db.hash)
    return _BUILDS[db]


def _code():
    """This package's version and files, and the Datasette packages' versions."""
    if not _CODE:
        digest = hashlib.sha256()
        for dist in sorted(importlib.metadata.distributions(), key=lambda d: d.metadata["Name"] or ""):
            name = (dist.metadata["Name"] or "").lower()
            if name.startswith("datasette") or name == "hkcnews-archive":
                digest.update(f"{name}=={dist.version}\0".encode())
        package = Path(__file__).resolve().parent.parent
        for path in sorted(package.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".html", ".yml"):
                digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
        _CODE.append(digest.hexdigest())
    return _CODE[0]


def _verdict(start, first_piece, marks):
    """What a response gets: "validated" (the validators), "not whole"
    (Cache-Control: no-cache) or None (nothing: it stays as it is)."""
    headers = start.get("headers", [])
    if start["status"] != 200 or any(name.lower() == b"set-cookie" for name, _ in headers):
        return None
    if not all(mark.get("keep", True) for mark in marks):
        return "not whole"
    if first_piece["type"] != "http.response.body" or first_piece.get("more_body"):
        return None
    return "validated"


def _with(headers, ours):
    """``headers`` with ours in place of theirs of the same names, Vary merged."""
    names = {name for name, _ in ours}
    vary = [v.strip() for name, value in headers if name.lower() == b"vary" for v in value.split(b",") if v.strip()]
    kept = [(name, value) for name, value in headers if name.lower() not in names]
    merged = []
    for name, value in ours:
        if name == b"vary":
            tokens = value.split(b", ")
            value = b", ".join(tokens + [v for v in vary if v.lower() not in {t.lower() for t in tokens}])
        merged.append((name, value))
    return [*kept, *merged]


async def _not_modified(send, headers):
    await send({"type": "http.response.start", "status": 304, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
