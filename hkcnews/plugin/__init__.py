"""Datasette hooks for any database that build_db.py made: Chinese-aware
search, search excerpts, a tag facet and filter that stay fast on the whole
archive, readable article, table and home pages (with the templates beside
this file), the month chart of a search and the trends page, complete CSV
downloads, a robots.txt, and metadata.yml applied whatever the file is
called."""

import html
import json
import weakref

from datasette import hookimpl
from datasette.filters import FilterArguments
from datasette.utils.asgi import Response
from markupsafe import Markup

from ..address import PublicAddress
from ..browse import article_page, home_numbers, list_columns, only_columns
from ..cache import PageCache
from ..compression import Compression
from ..config import DATASETTE_1
from ..coverage import MonthFacet, coverage_chart
from ..database_file import DatabaseFile
from ..download_queue import DownloadQueue
from ..downloads import CompleteCsv
from ..facets import ARCHIVE_FACETS, TAGGED_TABLE, search_in_date_order, tag_filter_clauses
from ..internals import (
    describe_like_the_archive,
    replacing_facet_classes,
    rewriting_search_filters,
    row_route,
    stored_queries,
)
from ..jsonl import can_render_jsonl, render_jsonl, table_jsonl
from ..limits import bound, too_large_message
from ..months import ARTICLES_PER_MONTH_SQL
from ..ours import built_by_this_bundle, built_by_us
from ..pages import tag_url, thumbnail_html
from ..query_status import QueryErrorStatus
from ..redirects import capture_redirect
from ..refusals import refusal
from ..render import excerpt, safe_marked_html
from ..security import SecurityHeaders
from ..terms import MATCH_NOTHING, fts_query
from ..trends import trends, trends_url

MMAP_BYTES = 8 * 1024**3


def _never_raise(function, fallback):
    # An exception inside an SQL function becomes an SQL error and an error
    # page; a reader's query must never cause one.
    def wrapper(*args):
        try:
            return function(*("" if a is None else str(a) for a in args))
        except Exception:
            return fallback

    return wrapper


@hookimpl(trylast=True)
def prepare_connection(conn):
    # Runs after Datasette's own prepare_connection, so this escape_fts
    # replaces the stock one: the table search box, ?_search= and
    # datasette-search-all all call escape_fts(:search). Other databases keep
    # the stock function, since their indexes hold plain words.
    if built_by_this_bundle(conn):
        conn.create_function("escape_fts", 1, _never_raise(fts_query, MATCH_NOTHING), deterministic=True)
        # A search for a common word reads tens of thousands of article rows
        # by rowid; through mmap each is a memory access instead of a read()
        # call, which halves the time of such pages on the whole archive.
        conn.execute(f"pragma mmap_size = {MMAP_BYTES}")
        # A visitor's SQL runs on this connection: bounded in size as well
        # as in time (hkcnews/limits.py).
        bound(conn)
    conn.create_function("search_excerpt", 2, _never_raise(excerpt, ""), deterministic=True)


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    excerpt_cell = column == "excerpt" and isinstance(value, str)
    if not excerpt_cell and ((table, column) not in _CELLS or value is None):
        return None

    async def inner():
        if not await built_by_us(datasette, database):
            return None
        if excerpt_cell:
            return Markup(safe_marked_html(value))
        return Markup(_CELLS[table, column](row, value, database, datasette))

    return inner


def _articles_url(datasette, database):
    # A plain str: Datasette's URL strings run Python code on every method
    # call, and these cells are built for every row of every page (the
    # urls.row() of each title was 8% of the server's time under load).
    return str(datasette.urls.table(database, "articles"))


def _title_cell(row, value, database, datasette):
    url = f"{_articles_url(datasette, database)}/{row['id']}"
    return f'<a href="{html.escape(url)}">{html.escape(str(value))}</a>'


def _tags_cell(row, value, database, datasette):
    table_url = _articles_url(datasette, database)
    return " · ".join(
        f'<a class="tag" href="{html.escape(tag_url(table_url, tag))}">{html.escape(tag)}</a>'
        for tag in json.loads(value)
    )


def _thumbnail_cell(row, value, database, datasette):
    return thumbnail_html(value, row["alt"]) or html.escape(str(value))


_CELLS = {
    ("articles", "title"): _title_cell,
    ("articles", "tags"): _tags_cell,
    ("figures", "image_url"): _thumbnail_cell,
}


@hookimpl
def extra_template_vars(template, database, table, view_name, request, datasette):
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
            if table != TAGGED_TABLE:
                return {"hkc_table": True}
            columns = list_columns(request.args)
            search = request.args.get("_search", "").strip()
            return {
                "hkc_table": True,
                "hkc_columns": columns,
                "hkc_only_columns": only_columns(columns or ()),
                "hkc_coverage_chart": coverage_chart,
                "hkc_trends_url": trends_url(datasette, database, [search]) if search else None,
            }
        if table != TAGGED_TABLE:
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


# metadata.yml describes the archive under one database name (news); every
# other database this bundle built is given the same description, facets
# and canned queries, so any file name serves alike.
_DESCRIBED = weakref.WeakKeyDictionary()


@hookimpl
def startup(datasette):
    async def inner():
        names = [name for name in datasette.databases if await built_by_us(datasette, name)]
        _DESCRIBED[datasette] = await describe_like_the_archive(datasette, names)

    return inner


if not DATASETTE_1:
    # Two hooks of the 0.65 line that 1.0 removed; there, config.py puts
    # the query's SQL in the configuration and the startup hook applies the
    # metadata.

    @hookimpl
    def canned_queries(datasette, database):
        async def inner():
            if not await built_by_us(datasette, database):
                return None
            described = (datasette.metadata("queries", database=database) or {}).get("articles_per_month") or {}
            return {"articles_per_month": {**described, "sql": ARTICLES_PER_MONTH_SQL}}

        return inner

    @hookimpl
    def get_metadata(datasette, key, database, table):
        return _DESCRIBED.get(datasette)


@hookimpl(specname="register_facet_classes")
def month_facet():
    return [MonthFacet]


# Datasette's facet classes swapped for subclasses that suggest nothing on
# an archive's tables and answer the tags and year columns themselves, and
# its search clause read in date order (both hkcnews/facets.py).
archive_facet_classes = replacing_facet_classes(ARCHIVE_FACETS)
search_filters_in_date_order = rewriting_search_filters(search_in_date_order)


@hookimpl
def filters_from_request(request, database, table, datasette):
    if table != TAGGED_TABLE:
        return None

    async def inner():
        clauses, params = tag_filter_clauses(request.args)
        if not clauses or not await built_by_us(datasette, database):
            return None
        return FilterArguments(clauses, params)

    return inner


# Outermost first: headers for a public site; the configured address,
# before anything reads the Host; the database file, never compressed; the
# page cache, which keeps pages once compressed; gzip; downloads in turn;
# a page is kept only once it is complete, so the cache wraps that check;
# a failed query's page gets its 400 before the cache sees it (1.0).
WRAPPERS = (
    SecurityHeaders,
    PublicAddress,
    DatabaseFile,
    PageCache,
    Compression,
    DownloadQueue,
    CompleteCsv,
    QueryErrorStatus,
)


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        for wrapper in reversed(WRAPPERS):
            app = wrapper(app, datasette)
        return app

    return wrap


@hookimpl
def handle_exception(datasette, request, exception):
    message = too_large_message(exception)
    if message is not None:
        # A query that asked for more than limits.py allows: a 400 saying
        # why, not the 500 Datasette gives errors its views do not expect.
        return refusal(datasette, request, message)
    # A 404 for an article number that is a capture's: redirect to its article.
    return capture_redirect(datasette, request, exception)


# Article, author and tag pages are worth a search engine's time; the
# endless combinations of searches, facets, sorts, SQL and exports behind a
# "?" or an extension are not, and on the whole archive they are what would
# load a public instance.
ROBOTS_TXT = """User-agent: *
Disallow: /*?
Disallow: /*.json
Disallow: /*.csv
Disallow: /*.atom
Disallow: /-/
"""


@hookimpl
def register_routes():
    return [
        (r"^/robots\.txt$", lambda: Response.text(ROBOTS_TXT)),
        (r"^/(?P<database>[^/]+)/-/trends(?P<format>\.csv|\.json)?$", trends),
        (r"^/(?P<database>[^/]+)/(?P<table>[^/]+)\.jsonl$", table_jsonl),
    ]


@hookimpl
def register_output_renderer(datasette):
    # Gives every archive page a "jsonl" link beside Datasette's json and
    # CSV ones; a table's .jsonl is answered by table_jsonl, a query's here.
    return {"extension": "jsonl", "render": render_jsonl, "can_render": can_render_jsonl}
