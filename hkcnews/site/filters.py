"""The articles table's filters, rewritten for the whole archive with
Datasette's own URLs: an indexed twin for the tag filter, and the search
clause read in date order."""

from datasette.utils import escape_sqlite

from hkcnews.internals import STOCK_COLUMN_SEARCH_CLAUSE, STOCK_SEARCH_CLAUSE
from hkcnews.ours import ARTICLES, built_by_us
from hkcnews.site.facets import TAGS_COLUMN
from hkcnews.terms import check_sql, search_needs_check

# The searchable tables, and whether a search of each is read in date order.
SEARCHED = {ARTICLES: True, "figures": False}


def tag_filter_clauses(request_args):
    """An indexed twin for every ?tags__arraycontains= filter. Datasette's
    own clause runs json_each on every row; ANDed with this one, SQLite
    reads only the rows that carry the tag."""
    clauses, params = [], {}
    for i, tag in enumerate(request_args.getlist(f"{TAGS_COLUMN}__arraycontains")):
        params[f"hkcnews_tag_{i}"] = tag
        clauses.append(
            f"[{ARTICLES}].id in (select article_id from article_tags where tag_id = "
            f"(select id from tags where name = :hkcnews_tag_{i}))"
        )
    return clauses, params


async def search_in_date_order(datasette, database, table, filter_arguments):
    """Datasette's search clause for the articles table, with ``+rowid``.

    SQLite then reads the hits in the order of the (date desc, id) index
    instead of looking each one up and sorting them. That is faster for a
    search with thousands of hits (a 63,000-hit page: 45 ms to 8 ms), slower
    for a rare term (the page's queries each scan an index: 20 to 30 ms more
    per page on 100,000 articles, still under 100 ms), and it gives articles of the same day in id order, which is
    what Datasette's next-page clause assumes: without it, CSV exports and
    second pages of a search skipped or repeated articles of the day a page
    ended on (Datasette 0.65 sorts the first page by date alone).

    A search with NEAR, where FTS5 finds a superset, also gets the exact
    check of each candidate (terms.check_sql), on the figures table too.

    A column search (?_search_title=) reads that column of the index with
    terms.column_fts_query, whose lone characters are found where they
    stand inside a run too (escape_fts finds them in the one-character
    column, which spans every column), with its exact check of NEAR.
    """
    if table not in SEARCHED or not await built_by_us(datasette, database):
        return filter_arguments
    fts = escape_sqlite(f"{table}_fts")
    stock = STOCK_SEARCH_CLAUSE.format(fts=fts)
    order = "+" if SEARCHED[table] else ""
    clauses = []
    for clause in filter_arguments.where_clauses:
        if clause == stock:
            clause = order + stock
            if search_needs_check(str(filter_arguments.params.get("search") or "")):
                clause = f"{clause} and {check_sql('search', escape_sqlite(table))}"
        elif (column_search := STOCK_COLUMN_SEARCH_CLAUSE.match(clause)) and column_search["fts"] == fts:
            clause = _column_search(table, fts, column_search["column"].strip("[]"), f"search_{column_search['n']}")
            clause = order + clause
        clauses.append(clause)
    filter_arguments.where_clauses = clauses
    return filter_arguments


def _column_search(table, fts, column, param):
    match = f"rowid in (select rowid from {fts} where {fts} match search_column_fts(:{param}, '{column}'))"
    return f"{match} and {check_sql(param, escape_sqlite(table), column)}"
