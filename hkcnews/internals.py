"""Where the plugin uses Datasette beyond its documented plugin hooks: in
one place, each with the reason, and each checked by
tests/test_internals.py so that a Datasette release that changes it fails
loudly there instead of quietly elsewhere. (Calls whose documented API
differs between Datasette 0.65 and 1.0 are hkcnews/compat.py.)

Two more live where they must, and are tested there too: the plugin's
escape_fts replaces Datasette's own SQL function (a ``trylast``
prepare_connection hook in hkcnews/site), and the templates beside the
plugin read Datasette's template context (``display_rows`` of the table
page, whose cells name their column; ``database_color``, a function on
0.65 and a string on 1.0) and include Datasette's own templates
(``default:_table.html``; ``_description_source_license.html`` carries the
home page's archive section, as 0.65 has no hook for the home page).
"""

import copy
import functools
import re
import sqlite3
from contextlib import contextmanager

from datasette import hookimpl
from datasette.database import QueryInterrupted, Results
from datasette.utils import await_me_maybe, sqlite_timelimit

from hkcnews.compat import DATASETTE_1

# Datasette's clause for ?_search= on a table with an FTS index
# (datasette/filters.py, search_filters; the same on 0.65 and 1.0), which
# hkcnews/site/facets.py rewrites to be read in date order. Found by string, as
# Datasette gives the filters as SQL text.
STOCK_SEARCH_CLAUSE = "rowid in (select rowid from {fts} where {fts} match escape_fts(:search))"
# And of a column search (?_search_title=), the column and the parameter's number in its groups.
STOCK_COLUMN_SEARCH_CLAUSE = re.compile(
    r"rowid in \(select rowid from (?P<fts>\S+) where (?P<column>\S+) match escape_fts\(:search_(?P<n>\d+)\)\)\Z"
)


def served_datasette(db, inspect_data, settings, **configuration):
    """The Datasette that ``datasette serve -i DB --inspect-file … --setting
    …`` builds, for an ASGI server of our own (hkcnews/serve/asgi.py): no
    documented API builds the app the command line would, and these
    constructor arguments (inspect_data, settings) are the ones its
    serve command passes."""
    # Imported here: datasette.app loads the plugins, this module among them.
    from datasette.app import Datasette

    return Datasette(immutables=[str(db)], inspect_data=inspect_data, settings=settings, **configuration)


def row_route(request):
    """(database route, table, primary key, format) of a request for a row
    page (/news/articles/39427.json): the URL variables of Datasette's own
    route, which its views read and no hook is given. Empty strings where
    the route has none."""
    url_vars = request.url_vars
    return tuple(url_vars.get(name) or "" for name in ("database", "table", "pks", "format"))


def replacing_facet_classes(replacements):
    """A ``register_facet_classes`` hook wrapper that puts
    ``replacements[cls]`` in the place of each of Datasette's own facet
    classes it names. A wrapper (pluggy's force_result) because the hook
    can only add classes: the stock ones would otherwise run beside their
    replacements and count every facet twice."""

    @hookimpl(hookwrapper=True, specname="register_facet_classes")
    def wrapper():
        outcome = yield
        outcome.force_result([[replacements.get(cls, cls) for cls in classes] for classes in outcome.get_result()])

    return wrapper


def rewriting_search_filters(rewrite):
    """A ``filters_from_request`` hook wrapper that passes every filter's
    result, Datasette's own search filter among them, through
    ``await rewrite(datasette, database, table, filter_arguments)``: the
    hook lets a plugin add clauses, not change Datasette's."""

    @hookimpl(hookwrapper=True, specname="filters_from_request")
    def wrapper(request, database, table, datasette):
        outcome = yield
        searched = any(key == "_search" or key.startswith("_search_") for key in request.args)
        if not searched or request.args.get("_searchmode") == "raw":
            return

        def rewritten(hook):
            async def inner():
                arguments = await await_me_maybe(hook)
                if arguments is None:
                    return None
                return await rewrite(datasette, database, table, arguments)

            return inner

        outcome.force_result([rewritten(hook) for hook in outcome.get_result()])

    return wrapper


def described_archive(metadata):
    """(name, description) of the database whose metadata describes an
    articles table, as metadata.yml describes ``news``, or (None, None)."""
    for name, database in (metadata.get("databases") or {}).items():
        if "articles" in (database.get("tables") or {}):
            return name, database
    return None, None


async def describe_like_the_archive(datasette, names):
    """Gives each database in ``names`` the metadata, table options and
    canned queries configured for the archive (metadata.yml's ``news``), so
    that a file of any name is served alike. Returns the 0.65 metadata to
    answer the ``get_metadata`` hook with; on 1.0 it is applied here."""
    if not DATASETTE_1:
        # 0.65: the whole metadata is datasette.metadata(); the plugin
        # answers get_metadata (a hook 1.0 removed) with these databases.
        described, archive = described_archive(datasette.metadata() or {})
        if described is None:
            return None
        return {"databases": {name: archive for name in names if name != described}}
    # 1.0: table options and queries are configuration, which Datasette
    # reads once, from datasette.config; no API adds to it, so the
    # archive's part is copied there, and its queries added with the stored
    # queries API as Datasette adds configured ones.
    described, archive = described_archive(datasette.config or {})
    if described is None:
        return None
    databases = datasette.config["databases"]
    for name in names:
        if name == described or name in databases:
            continue
        databases[name] = copy.deepcopy(archive)
        for query_name, query in (archive.get("queries") or {}).items():
            await datasette.add_query(
                name,
                query_name,
                query["sql"],
                title=query.get("title"),
                description=query.get("description"),
                description_html=query.get("description_html"),
                hide_sql=bool(query.get("hide_sql")),
                parameters=query.get("params"),
                is_trusted=True,
                source="config",
            )
        await _copy_metadata(datasette, described, name)
    return None


async def _copy_metadata(datasette, source, target):
    # 1.0 keeps metadata in its internal database, which the documented
    # get_*/set_*_metadata methods read and write one key at a time, with no
    # way to list a database's tables or columns but its tables.
    internal = datasette.get_internal_database()
    for key, value in await internal.execute(
        "select key, value from metadata_databases where database_name = ?", [source]
    ):
        await datasette.set_database_metadata(target, key, value)
    for table, key, value in await internal.execute(
        "select resource_name, key, value from metadata_resources where database_name = ?", [source]
    ):
        await datasette.set_resource_metadata(target, table, key, value)
    for table, column, key, value in await internal.execute(
        "select resource_name, column_name, key, value from metadata_columns where database_name = ?", [source]
    ):
        await datasette.set_column_metadata(target, table, column, key, value)


@contextmanager
def time_limited(conn, ms, sql, params):
    """Datasette's time limit for a query the plugin runs on a connection
    of its own (Database.execute_fn): ``ms`` as Database.execute limits
    its queries, and past it Datasette's QueryInterrupted, which the table
    view answers as it answers a facet that timed out."""
    with sqlite_timelimit(conn, ms):
        try:
            yield
        except sqlite3.OperationalError as e:
            if e.args == ("interrupted",):
                raise QueryInterrupted(e, sql, params) from e
            raise


# The query of Datasette's ColumnFacet.facet_results (datasette/facets.py,
# the same on 0.65 and 1.0): a column's values and counts, count desc, value.
COLUMN_FACET_SQL = re.compile(
    r"\s*select (?P<column>\S+) as value, count\(\*\) as count from \(.*\)\s*"
    r"where (?P=column) is not null\s*group by (?P=column) order by count desc, value limit (?P<limit>\d+)\s*\Z",
    re.S,
)


class _FacetRow(tuple):
    """A (value, count) row read as Datasette reads its result rows, by name or position."""

    def __getitem__(self, key):
        return tuple.__getitem__(self, ("value", "count").index(key) if isinstance(key, str) else key)

    def keys(self):
        return ["value", "count"]


class CountedColumn:
    """Datasette, except that its ``execute`` answers the query of a column
    facet of ``column`` with ``counts`` ([(value, count), …] in the facet's
    order, counted by the plugin), for a ColumnFacet given this as its
    ``ds``: the facet then builds its results, labels, links and selection
    with Datasette's own code on either line, from counts that cost no
    query. Every other attribute and query is the Datasette's."""

    def __init__(self, datasette, column, counts):
        self._datasette = datasette
        self._column = column
        self._counts = counts
        self.answered = 0

    def __getattr__(self, name):
        return getattr(self._datasette, name)

    async def execute(self, database, sql, params=None, **kwargs):
        query = COLUMN_FACET_SQL.match(sql)
        if query is None or query["column"].strip("[]") != self._column:
            return await self._datasette.execute(database, sql, params, **kwargs)
        self.answered += 1
        rows = [_FacetRow(pair) for pair in self._counts[: int(query["limit"])]]
        return Results(rows, False, (("value",), ("count",)))


# Tables whose allow blocks are kept per Datasette: the archive's, its full-
# text index's, and the names visitors type; a bound, as names come from URLs.
KEPT_PERMISSIONS = 1024


def remember_table_permissions(datasette):
    """Datasette 0.65.5 reads a table's allow blocks (its view-table check)
    by deep-copying every metadata source and merging them, on every check:
    about 150 checks a page, each copying metadata.yml whole, a sixth of a
    search page's CPU. The sources do not change once the plugin has
    described the archive at startup, so each table's answer is kept (on
    the instance, for its own tables). Datasette 1.0 reads permissions
    otherwise and has no such method: nothing is done there."""
    read = getattr(datasette, "_table_permission_allows", None)
    if read is None or getattr(read, "cache_info", None):
        return
    datasette._table_permission_allows = functools.lru_cache(maxsize=KEPT_PERMISSIONS)(read)
