"""What the bundle's templates are given: an article page, the articles
table's default columns, the home page's counts and chart, and the extra
template variables of the home, table and row pages (template_vars, for the
extra_template_vars hook)."""

import json
import weakref
from urllib.parse import urlencode

from datasette.utils import tilde_encode
from markupsafe import Markup

from hkcnews.compat import stored_queries
from hkcnews.internals import row_route
from hkcnews.months import all_month_counts
from hkcnews.ours import ARTICLES, built_by_us
from hkcnews.site.charts import month_chart_svg
from hkcnews.site.coverage import coverage_chart
from hkcnews.site.matches import language_links, language_links_html
from hkcnews.site.related import related
from hkcnews.site.safe_html import absolute_url, article_html, tag_url
from hkcnews.site.snippets import search_of, table_view
from hkcnews.site.trends import trends_url

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
    # A database built before article_texts has no related articles.
    related_articles = []
    if "article_texts" in await db.table_names():
        related_articles = await db.execute_fn(lambda conn: related(conn, article_id))
    for other in related_articles:
        other["url"] = datasette.urls.row(database, ARTICLES, other["id"])
    return {
        "article": article,
        "related": related_articles,
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


def month_url(table_url, month):
    """The articles of one month (YYYY-MM): the table filtered by date."""
    return f"{table_url}?{urlencode({'date__startswith': month})}"


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
    table_url = str(datasette.urls.table(database, ARTICLES))
    numbers = {
        "name": database,
        "url": datasette.urls.database(database),
        "tables": {t: datasette.urls.table(database, t) for t in counts},
        "counts": counts,
        "first": first,
        "last": last,
        # Each bar links to its month's articles, as the search chart's bars do.
        "chart": Markup(month_chart_svg(list(months.items()), link=lambda month: month_url(table_url, month))),
        "feed_url": f"{datasette.urls.database(database)}/feed.atom",
        "trends_url": f"{datasette.urls.database(database)}/-/trends",
        "on_this_day_url": f"{datasette.urls.database(database)}/-/on-this-day",
        "download": _download(datasette, db),
    }
    if not db.is_mutable:
        _HOME_CACHE[db] = numbers
    return numbers


def template_vars(database, table, view_name, request, datasette):
    """The extra_template_vars hook's answer for the home, table and row pages of an archive."""
    if view_name not in {"index", "table", "row"} or request is None:
        return None

    async def inner():
        if view_name == "index":
            archives = [
                {**await home_numbers(datasette, name), "queries": await _query_links(datasette, name, request)}
                for name in datasette.databases
                if await built_by_us(datasette, name)
            ]
            return {"hkc_archives": archives}
        if not await built_by_us(datasette, database):
            return {}
        if view_name == "table":
            if table != ARTICLES:
                return {"hkc_table": True}
            columns = list_columns(request.args)
            search = request.args.get("_search", "").strip()
            passages = search_of(request.args)
            return {
                "hkc_table": True,
                "hkc_columns": columns,
                "hkc_only_columns": only_columns(columns or ()),
                # Each result's passage around its hits (snippets.py).
                "hkc_table_view": table_view(datasette, database, passages) if passages else None,
                "hkc_coverage_chart": coverage_chart,
                "hkc_trends_url": trends_url(datasette, database, [search]) if search else None,
                "hkc_language": (links := language_links(datasette, database, request.args)),
                "hkc_language_html": Markup(language_links_html(links)),
            }
        if table != ARTICLES:
            return {}
        try:
            article_id = int(row_route(request)[2])
        except ValueError:
            return {}
        return {"hkc_article": await article_page(datasette, database, article_id)}

    return inner


async def _query_links(datasette, database, request):
    return [
        {"title": title or name, "url": datasette.urls.query(database, name), "description": description}
        for name, title, description in await stored_queries(datasette, database, request.actor)
    ]
