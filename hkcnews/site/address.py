"""The address an archive's pages give for themselves, from configuration,
never from the request.

Datasette builds absolute URLs (facet toggles, the chart's bars, a JSON
page's next_url) from the request's Host header and scheme, and the page
cache keeps a page by its path and query. So one request with
``Host: evil.example`` (or an ``X-Forwarded-Proto`` that uvicorn trusts from
a local proxy) put links to evil.example in the page every later reader of
that URL got. Every request for an archive database is therefore given one
host and scheme before Datasette sees it: the plugin setting ``public_url``
(``python -m hkcnews.serve --public-url``), or where none is set the
address the server listens on, and the forwarded-host headers are dropped.
Absolute rather than relative links, because feeds and the JSON API's
next_url are followed by programs that need them whole.
"""

from hkcnews.config import PLUGIN, public_url_parts
from hkcnews.ours import archive_in_path

DROPPED = {b"host", b"x-forwarded-host", b"x-forwarded-proto", b"x-forwarded-server", b"forwarded"}


def public_address(public_url, server):
    """(scheme, host) for pages: those of ``public_url`` when it is set,
    else those of ``server`` (the ASGI scope's (host, port) the server
    listens on, None under datasette.client, where it is "localhost")."""
    if public_url:
        return public_url_parts(public_url)
    if not server or server[0] is None:
        return "http", "localhost"
    host, port = server[0], server[1]
    if ":" in host:
        host = f"[{host}]"
    return "http", host if port in (None, 80) else f"{host}:{port}"


class PublicAddress:
    """ASGI middleware: archive requests get the public scheme and Host."""

    def __init__(self, app, datasette):
        self.app = app
        self.datasette = datasette
        config = datasette.plugin_config(PLUGIN) or {}
        self.public_url = config.get("public_url")
        public_address(self.public_url, None)  # a bad setting fails at startup, naming it

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and await archive_in_path(self.datasette, scope["path"]):
            scheme, host = public_address(self.public_url, scope.get("server"))
            headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() not in DROPPED]
            scope = {**scope, "scheme": scheme, "headers": [(b"host", host.encode("latin-1")), *headers]}
        await self.app(scope, receive, send)
