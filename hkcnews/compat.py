"""The differences between Datasette's two lines, 0.65 and the 1.0 alphas,
in one place: each function does one thing with the documented API of the
installed line. (Where the plugin relies on Datasette beyond its documented
API is hkcnews/internals.py.)"""

from datasette.version import __version__ as DATASETTE_VERSION
from datasette.views.base import DatasetteError

DATASETTE_1 = int(DATASETTE_VERSION.split(".")[0]) >= 1
# The name of the installed line, as the locks in requirements/ are named.
LINE = "1.0" if DATASETTE_1 else "0.65"


async def ensure_can_view_table(datasette, actor, database, table):
    """Raises Forbidden unless ``actor`` may see ``table``: the checks of
    Datasette's own table page, on both lines (each has a documented call
    for it, but not the same one)."""
    if not DATASETTE_1:
        await datasette.ensure_permissions(
            actor, [("view-table", (database, table)), ("view-database", database), "view-instance"]
        )
        return
    from datasette.resources import TableResource

    # 1.0 resolves the database's and the instance's rules for a table.
    await datasette.ensure_permission(action="view-table", resource=TableResource(database, table), actor=actor)


async def ensure_can_download(datasette, actor, database):
    """Raises Forbidden unless ``actor`` may download the file of
    ``database``: the checks of Datasette's own download view, on both lines."""
    if not DATASETTE_1:
        await datasette.ensure_permissions(
            actor, [("view-database-download", database), ("view-database", database), "view-instance"]
        )
        return
    from datasette.resources import DatabaseResource

    await datasette.ensure_permission(
        action="view-database-download", resource=DatabaseResource(database=database), actor=actor
    )


def renderer_with_truncation(render):
    """An output renderer's ``render`` callback for each line, from
    ``render(rows, columns, truncated, error)``: Datasette passes a
    callback the arguments its signature names, and 1.0 names the
    truncation and the error as arguments of their own where 0.65 has them
    only in ``data`` (which 1.0 keeps without them)."""
    if DATASETTE_1:

        def render_1(rows, columns, truncated, error):
            return render(rows, columns, truncated, error)

        return render_1

    def render_065(rows, columns, data):
        return render(rows, columns, data.get("truncated"), data.get("error"))

    return render_065


async def stored_queries(datasette, database, actor):
    """[(name, title, description)] of the canned queries of ``database``
    that ``actor`` may run, in the order they are configured."""
    if not DATASETTE_1:
        # 0.65 documents no other way to list them.
        queries = await datasette.get_canned_queries(database, actor)
        return [(name, q.get("title"), q.get("description")) for name, q in queries.items()]
    # 1.0: the stored queries API; it lists in its own order, so the
    # configured order is restored from the configuration where it has them.
    page = await datasette.list_queries(database, actor=actor, limit=1000)
    configured = list(((datasette.config or {}).get("databases") or {}).get(database, {}).get("queries") or {})
    order = {name: i for i, name in enumerate(configured)}
    found = sorted(page.queries, key=lambda q: (order.get(q.name, len(order)), q.name))
    return [(q.name, q.title, q.description) for q in found]


async def canned_query_sql(datasette, database, name):
    """The SQL of a canned query, or None if there is no such query."""
    if not DATASETTE_1:
        # 0.65: the same lookup its query view makes (no actor: the
        # permission was checked when the query ran).
        query = await datasette.get_canned_query(database, name, None)
        return (query or {}).get("sql")
    query = await datasette.get_query(database, name)
    return query.sql if query else None


# Datasette 0.65 answers a table page's bad ?_sort= with status 500; 1.0
# raises the same errors with the 400 they are.
_BAD_SORT = ("Cannot sort table by ", "Cannot use _sort and _sort_desc at the same time")


def bad_sort_message(exception):
    """The message of 0.65's 500 for a ?_sort= or ?_sort_desc= that names no
    sortable column, or None for any other exception."""
    if (
        isinstance(exception, DatasetteError)
        and exception.status == 500
        and str(exception.message).startswith(_BAD_SORT)
    ):
        return str(exception.message)
    return None
