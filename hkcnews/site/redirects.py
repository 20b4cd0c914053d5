"""Old article numbers keep working. Every file of the backup is a capture
with the number in its address, but only one number of each article is the
article's id: /news/articles/360 (a repeat of 177) answers with a redirect
to /news/articles/177, in HTML and JSON alike, and the number of a failed
capture with one to its row in captures."""

from datasette.utils.asgi import NotFound, Response

from hkcnews.internals import row_route
from hkcnews.ours import ARTICLES, built_by_us


async def capture_redirect(datasette, request, exception):
    """The redirect for an article page that was not found because its
    number is a capture's, or None."""
    route, table, pks, format = row_route(request)
    if not isinstance(exception, NotFound) or table != ARTICLES:
        return None
    try:
        number = int(pks)
        db = datasette.get_database(route=route)
    except (ValueError, KeyError):
        return None
    if not await built_by_us(datasette, db.name):
        return None
    row = (await db.execute("select article_id from captures where id = ?", [number])).first()
    if row is None or row["article_id"] == number:
        return None
    table, key = (ARTICLES, row["article_id"]) if row["article_id"] is not None else ("captures", number)
    url = datasette.urls.row(db.name, table, key, format=format or None)
    if request.query_string:
        url += f"?{request.query_string}"
    return Response.redirect(url)
