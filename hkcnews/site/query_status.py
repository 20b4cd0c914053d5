"""An SQL query that fails answers 400 in HTML too, on Datasette 1.0.

Datasette 0.65 answers a failed query (a syntax error, a value over
hkcnews/site/limits.py's length limit) with its error and status 400 in every
form; the 1.0 alphas do so in JSON and CSV, but render the HTML page with
the error in it and status 200, so that a script or a monitor reading the
status sees success. For an archive's /<database>/-/query page this
middleware holds the page (at most max_returned_rows rows, each cell cut
to truncate_cells_html) and sends it with status 400 when it carries
Datasette's error paragraph. A no-op on 0.65.
"""

from hkcnews.compat import DATASETTE_1
from hkcnews.ours import archive_in_path
from hkcnews.site.held import held_response

# Datasette's query.html writes a query's error in this paragraph (the
# same on 0.65 and 1.0; tests/test_public.py checks the status it gives).
ERROR_MARK = b'<p class="message-error">'


class QueryErrorStatus:
    """ASGI middleware: status 400 for an archive's failed SQL page on 1.0."""

    def __init__(self, app, datasette):
        self.app = app
        self.datasette = datasette

    async def __call__(self, scope, receive, send):
        if not DATASETTE_1 or scope["type"] != "http" or not scope["path"].endswith("/-/query"):
            return await self.app(scope, receive, send)
        if not await archive_in_path(self.datasette, scope["path"]):
            return await self.app(scope, receive, send)
        start, body = await held_response(self.app, scope, receive)
        if start["status"] == 200 and ERROR_MARK in body:
            start = {**start, "status": 400}
        await send(start)
        await send({"type": "http.response.body", "body": body})
