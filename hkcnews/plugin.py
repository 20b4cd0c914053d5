"""Datasette hooks for any database that build_db.py made: Chinese-aware
search, search excerpts, and a tag facet and filter that stay fast on the
whole archive."""
from datasette import hookimpl
from datasette.utils import await_me_maybe
from datasette.facets import ArrayFacet
from datasette.filters import FilterArguments
from markupsafe import Markup

from .facets import TAGGED_TABLE, TagsFacet, search_in_date_order, built_by_this_bundle, built_by_us, tag_filter_clauses
from .render import excerpt, safe_marked_html
from .terms import MATCH_NOTHING, fts_query


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
    conn.create_function("search_excerpt", 2, _never_raise(excerpt, ""), deterministic=True)


@hookimpl
def render_cell(value, column):
    if column == "excerpt" and isinstance(value, str):
        return Markup(safe_marked_html(value))
    return None


@hookimpl(hookwrapper=True)
def register_facet_classes():
    # Swap Datasette's array facet for the subclass that answers the tags
    # column from the tag tables; a wrapper, so the stock class is not left
    # running beside it.
    outcome = yield
    outcome.force_result(
        [[TagsFacet if cls is ArrayFacet else cls for cls in classes] for classes in outcome.get_result()]
    )


@hookimpl(hookwrapper=True, specname="filters_from_request")
def search_filters_in_date_order(request, database, table, datasette):
    # Wraps every filter, Datasette's own search filter among them, so that
    # the search clause can be rewritten after Datasette has written it.
    outcome = yield
    if "_search" not in request.args or request.args.get("_searchmode") == "raw":
        return

    def rewritten(hook):
        async def inner():
            arguments = await await_me_maybe(hook)
            if arguments is None:
                return None
            return await search_in_date_order(datasette, database, table, arguments)

        return inner

    outcome.force_result([rewritten(hook) for hook in outcome.get_result()])


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
