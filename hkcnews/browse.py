"""What the bundle's templates are given: an article page, the articles
table's default columns, and the home page's counts and chart. Everything
here reads a database build_db.py made; the hooks in hkcnews/plugin decide when."""

import json
import weakref
from urllib.parse import urlencode

from datasette.utils import tilde_encode
from markupsafe import Markup

from .charts import month_chart_svg
from .months import all_month_counts
from .pages import absolute_url, article_html, tag_url

# What a row of the articles table shows unless ?_col= or ?_nocol= asks for
# other columns; CSV and JSON always carry every column.
ARTICLE_LIST_COLUMNS = ("id", "title", "date", "author", "category", "tags", "figure_count")

# Home-page numbers of immutable databases, counted once.
_HOME_CACHE = weakref.WeakKeyDictionary()


def list_columns(request_args):
    """The columns the articles table page shows, or None for all of them."""
    if "_col" in request_args or "_nocol" in request_args:
        return None
    return ARTICLE_LIST_COLUMNS


def only_columns(columns):
    """A template filter keeping the cells of the given columns, in order."""

    def keep(rows):
        return [[cell for cell in row if cell["column"] in columns] for row in rows]

    return keep


async def article_page(datasette, database, article_id):
    """The article with its rendered body, tag links and author, or None."""
    db = datasette.get_database(database)
    row = (await db.execute("select * from articles where id = ?", [article_id])).first()
    if row is None:
        return None
    article = dict(row)
    table_url = datasette.urls.table(database, "articles")
    author = None
    if article["author"]:
        box = (await db.execute("select * from authors where name = ?", [article["author"]])).first()
        author = dict(box) if box else {"name": article["author"]}
        author["url"] = datasette.urls.row(database, "authors", tilde_encode(article["author"]))
        author["articles_url"] = f"{table_url}?{urlencode({'author': article['author']})}"
        author["avatar_url"] = absolute_url(author.get("avatar_url"))
    captures = await db.execute(
        "select id, archived_at, url, source_path from captures where article_id = ? order by archived_at, id",
        [article_id],
    )
    return {
        "article": article,
        "captures": [
            {
                **dict(c),
                "url": absolute_url(c["url"]),
                "row_url": datasette.urls.row(database, "captures", c["id"]),
                "shown": c["source_path"] == article["source_path"],
            }
            for c in captures
        ],
        "body_html": Markup(article_html(article["body"])),
        "tags": [{"name": t, "url": tag_url(table_url, t)} for t in json.loads(article["tags"] or "[]")],
        "author": author,
        "category_url": f"{table_url}?{urlencode({'category': article['category']})}" if article["category"] else None,
        "capture_url": absolute_url(article["url"]),
        "original_url": absolute_url(article["original_url"]),
    }


def _download(datasette, db):
    """The database file's download link and size in MB, where Datasette
    offers it (an immutable file, allow_download on), or None."""
    if db.is_mutable or db.is_memory or not datasette.setting("allow_download"):
        return None
    return {"url": f"{datasette.urls.database(db.name)}.db", "mb": db.size / 1e6}


async def home_numbers(datasette, database):
    """Counts, date range and articles per month of one archive database."""
    db = datasette.get_database(database)
    if db in _HOME_CACHE:
        return _HOME_CACHE[db]
    counts = {}
    for table in ("articles", "figures", "tags", "authors", "captures"):
        counts[table] = (await db.execute(f"select count(*) from [{table}]")).single_value()
    first, last = (await db.execute("select min(date), max(date) from articles")).first()
    months = await all_month_counts(db)
    numbers = {
        "name": database,
        "url": datasette.urls.database(database),
        "tables": {t: datasette.urls.table(database, t) for t in counts},
        "counts": counts,
        "first": first,
        "last": last,
        "chart": Markup(month_chart_svg(list(months.items()))),
        "feed_url": f"{datasette.urls.database(database)}/feed.atom",
        "trends_url": f"{datasette.urls.database(database)}/-/trends",
        "download": _download(datasette, db),
    }
    if not db.is_mutable:
        _HOME_CACHE[db] = numbers
    return numbers
