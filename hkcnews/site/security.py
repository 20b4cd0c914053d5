"""Response headers a public site sends, on the archive's pages.

Datasette sends ``Referrer-Policy: no-referrer`` on its own responses and
nothing else of the kind. The policy below allows what Datasette's own pages and the
archive's need: their scripts and styles, inline ones included (Datasette
writes both inline), images from anywhere over https (the articles'
pictures are web.archive.org's), and nothing else: no plugins, no frames
of these pages on other sites, forms that post only here.
"""

from hkcnews.ours import archive_in_path

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data: https:",
        "style-src 'self' 'unsafe-inline'",
        "script-src 'self' 'unsafe-inline'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ]
)
HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    # Datasette's own responses send it already; the archive's streams too.
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
]


class SecurityHeaders:
    """ASGI middleware: HEADERS on every response for an archive database
    or the home page, where a header of that name is not already set."""

    def __init__(self, app, datasette):
        self.app = app
        self.datasette = datasette

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not (
            scope["path"] == "/" or await archive_in_path(self.datasette, scope["path"])
        ):
            return await self.app(scope, receive, send)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in HEADERS if name not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)
