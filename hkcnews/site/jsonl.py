"""JSON lines of a query: /<database>.jsonl?sql= (and a canned query's)
is its one page, one JSON object a line (application/x-ndjson), and a query
cut at max_returned_rows is refused with 400 rather than silently short. A
table's JSON lines hold its whole result (hkcnews/site/whole_downloads.py
answers them before Datasette sees them).
"""

from hkcnews.compat import renderer_with_truncation
from hkcnews.ours import built_by_us
from hkcnews.site.export import json_line
from hkcnews.site.whole_downloads import CONTENT_TYPES

CONTENT_TYPE = CONTENT_TYPES["jsonl"]


async def can_render_jsonl(datasette, database):
    return database is not None and await built_by_us(datasette, database)


def query_jsonl(rows, columns, truncated, error):
    """The output renderer for a query's page (tables are answered by
    whole_downloads.py, before Datasette): its rows, or 400 if the query
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
