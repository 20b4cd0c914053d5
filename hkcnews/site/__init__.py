"""The Datasette plugin for any database that build_db.py made: its hooks,
each handing its work to the module of this folder that does it. Other
databases stay stock Datasette."""

from datasette import hookimpl
from datasette.filters import FilterArguments

from hkcnews.compat import DATASETTE_1, bad_sort_message
from hkcnews.internals import remember_table_permissions, replacing_facet_classes, rewriting_search_filters
from hkcnews.ours import ARTICLES, built_by_us
from hkcnews.site import cells, connections, described, hits, template_data
from hkcnews.site.collocates import collocates_view
from hkcnews.site.concordance import concordance_view
from hkcnews.site.coverage import MonthFacet
from hkcnews.site.days import day, on_this_day
from hkcnews.site.facets import ARCHIVE_FACETS
from hkcnews.site.filters import search_in_date_order, tag_filter_clauses
from hkcnews.site.jsonl import can_render_jsonl, render_jsonl
from hkcnews.site.keywords import keywords_view
from hkcnews.site.limits import too_large_message
from hkcnews.site.middleware import wrapped
from hkcnews.site.redirects import capture_redirect
from hkcnews.site.refusals import refusal
from hkcnews.site.robots import robots_txt
from hkcnews.site.search_all import search_all_script
from hkcnews.site.search_help import search_help
from hkcnews.site.trends import trends


@hookimpl(trylast=True)
def prepare_connection(conn):
    # trylast: after Datasette's own, so that the archive's escape_fts replaces the stock one.
    connections.prepare(conn)


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    return cells.render_cell(row, value, column, table, database, datasette)


@hookimpl
def extra_template_vars(template, database, table, view_name, request, datasette):
    return template_data.template_vars(database, table, view_name, request, datasette)


@hookimpl
def extra_body_script(template, datasette):
    return search_all_script(template, datasette)


@hookimpl
def startup(datasette):
    async def inner():
        await described.describe(datasette)
        # After describe: the metadata the kept permissions are read from is final.
        remember_table_permissions(datasette)
        await hits.preload(datasette)

    return inner


if not DATASETTE_1:
    # Two hooks of the 0.65 line that 1.0 removed; there, config.py puts
    # the query's SQL in the configuration and the startup hook applies the
    # metadata.

    @hookimpl
    def canned_queries(datasette, database):
        return lambda: described.month_query(datasette, database)

    @hookimpl
    def get_metadata(datasette, key, database, table):
        return described.described_metadata(datasette)


@hookimpl(specname="register_facet_classes")
def month_facet():
    return [MonthFacet]


# Datasette's facet classes swapped for subclasses that suggest nothing on
# an archive's tables and answer the tags and year columns themselves
# (facets.py), and its search clause read in date order (filters.py).
archive_facet_classes = replacing_facet_classes(ARCHIVE_FACETS)
search_filters_in_date_order = rewriting_search_filters(search_in_date_order)


@hookimpl
def filters_from_request(request, database, table, datasette):
    if table != ARTICLES:
        return None

    async def inner():
        clauses, params = tag_filter_clauses(request.args)
        if not clauses or not await built_by_us(datasette, database):
            return None
        return FilterArguments(clauses, params)

    return inner


@hookimpl
def asgi_wrapper(datasette):
    return lambda app: wrapped(app, datasette)


@hookimpl
def handle_exception(datasette, request, exception):
    message = too_large_message(exception) or bad_sort_message(exception)
    if message is not None:
        # A query that asked for more than limits.py allows, or a sort by a
        # column the table has not (Datasette 0.65): a 400 saying why, not
        # the 500 Datasette gives errors its views do not expect.
        return refusal(datasette, request, message)
    # A 404 for an article number that is a capture's: redirect to its article.
    return capture_redirect(datasette, request, exception)


@hookimpl
def register_routes():
    return [
        (r"^/robots\.txt$", robots_txt),
        (r"^/(?P<database>[^/]+)/-/trends(?P<format>\.csv|\.json)?$", trends),
        (r"^/(?P<database>[^/]+)/-/concordance(?P<format>\.csv|\.jsonl)?$", concordance_view),
        (r"^/(?P<database>[^/]+)/-/collocates(?P<format>\.csv)?$", collocates_view),
        (r"^/(?P<database>[^/]+)/-/keywords(?P<format>\.csv)?$", keywords_view),
        (r"^/(?P<database>[^/]+)/-/day/(?P<day>[^/]+?)(?P<format>\.json)?$", day),
        (r"^/(?P<database>[^/]+)/-/on-this-day(?P<format>\.json)?$", on_this_day),
        (r"^/(?P<database>[^/]+)/-/search-help$", search_help),
    ]


@hookimpl
def register_output_renderer(datasette):
    # Gives every archive page a "jsonl" link beside Datasette's json and
    # CSV ones; a table's .jsonl is answered by whole_downloads.py, a query's here.
    return {"extension": "jsonl", "render": render_jsonl, "can_render": can_render_jsonl}
