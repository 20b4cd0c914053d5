"""Whole results as JSON lines: /<database>/<table>.jsonl?<anything the
table page takes> streams every matching row, one JSON object a line
(application/x-ndjson), in the order the page shows.

Datasette's JSON holds one page (at most max_returned_rows rows), and its
renderers are handed one page too, so the table's rows are read here page
after page from its own JSON, as Datasette's CSV stream reads them: the
filters, search, sort and permissions are Datasette's. A download that
fails after its first line breaks the connection instead of ending
normally, as the archive's CSV does (hkcnews/site/downloads.py). A query's JSON
lines (/<database>.jsonl?sql=) are its one page, and a query cut at
max_returned_rows is refused with 400 rather than silently short.
"""

import json
from urllib.parse import urlencode

from datasette.utils import tilde_decode
from datasette.utils.asgi import NotFound, Response

from hkcnews.compat import renderer_with_truncation
from hkcnews.ours import built_by_us
from hkcnews.site.cache import INTERNAL_HEADER
from hkcnews.site.downloads import IncompleteDownload

CONTENT_TYPE = "application/x-ndjson; charset=utf-8"
# Paging and shape are this download's; facets and counts are not needed.
OWN_ARGS = {"_next", "_size", "_shape", "_format", "_extra", "_nofacet", "_nocount", "_nosuggest", "_stream", "_dl"}
PAGE_ARGS = {"_shape": "objects", "_size": "max", "_nofacet": "1", "_nocount": "1", "_nosuggest": "1"}
PASSED_HEADERS = ("cookie", "authorization")


def json_line(row):
    """One row as a line of JSON, characters as they are."""
    return json.dumps(row, ensure_ascii=False, default=str) + "\n"


async def table_jsonl(request, send, datasette):
    """The route of /<database>/<table>.jsonl."""
    route, table = tilde_decode(request.url_vars["database"]), tilde_decode(request.url_vars["table"])
    try:
        db = datasette.get_database(route=route)
    except KeyError:
        raise NotFound(f"Database not found: {route}") from None
    if not await built_by_us(datasette, db.name) or table not in await db.table_names():
        raise NotFound(f"Table not found: {table}")
    args = [(k, v) for k in request.args.keys() if k not in OWN_ARGS for v in request.args.getlist(k)]
    base = datasette.urls.table(db.name, table, format="json")
    headers = {name: request.headers[name] for name in PASSED_HEADERS if name in request.headers}
    headers.update({"accept-encoding": "identity", INTERNAL_HEADER: "1"})

    async def page(next_token=None):
        query = [*args, *PAGE_ARGS.items(), *([("_next", next_token)] if next_token else [])]
        answer = await datasette.client.get(f"{base}?{urlencode(query)}", headers=headers)
        return answer.status_code, answer

    status, answer = await page()
    if status != 200:
        # Nothing sent yet: the visitor gets Datasette's own answer (a bad
        # filter's 400, a 403) in JSON.
        return Response(answer.text, status=status, content_type="application/json; charset=utf-8")
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", CONTENT_TYPE.encode())]})
    while True:
        data = answer.json()
        rows = data["rows"]
        if rows:
            await send(
                {"type": "http.response.body", "body": "".join(map(json_line, rows)).encode(), "more_body": True}
            )
        if not data.get("next"):
            break
        status, answer = await page(data["next"])
        if status != 200:
            raise IncompleteDownload(
                f"{request.path}: a page after {data['next']} answered {status}: {answer.text[:200]}"
            )
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def can_render_jsonl(datasette, database):
    return database is not None and await built_by_us(datasette, database)


def query_jsonl(rows, columns, truncated, error):
    """The output renderer for a query's page (tables are answered by
    table_jsonl, whose route comes first): its rows, or 400 if the query
    failed or Datasette cut it at max_returned_rows."""
    # Dicts: Datasette sets a returned Response's status to the page's own.
    if error:
        return {"body": f"{error}\n", "status_code": 400, "content_type": "text/plain; charset=utf-8"}
    if truncated:
        message = (
            "This query returns more rows than one answer holds (max_returned_rows), so its JSON lines "
            "would lose the rest. Take it in parts with LIMIT and OFFSET, or download a table's JSON lines.\n"
        )
        return {"body": message, "status_code": 400, "content_type": "text/plain; charset=utf-8"}
    lines = [json_line(dict(zip(columns, row, strict=True))) for row in rows]
    return {"body": "".join(lines), "content_type": CONTENT_TYPE}


render_jsonl = renderer_with_truncation(query_jsonl)
