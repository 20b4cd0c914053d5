"""What every connection Datasette opens to an archive gets: the archive's
query function (escape_fts, which the search box, ?_search= and
datasette-search-all call), search excerpts, memory-mapped reads, and the
limits of hkcnews/site/limits.py."""

import threading

from hkcnews.ours import built_by_this_bundle
from hkcnews.site.excerpts import article_passage_sql
from hkcnews.site.limits import bound
from hkcnews.terms import MATCH_NOTHING, SQL_FUNCTIONS, column_fts_query, fts_query

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


# A table page runs its search clause for its rows, its count and each of
# its facets: a NEAR search's check of a row is kept, for the last QUERIES
# searches of each database and table, up to ROWS rows each.
REMEMBERED_QUERIES = 16
REMEMBERED_ROWS = 200_000
_REMEMBERED = {}
_LOCK = threading.Lock()


def _remembered(function, where):
    def remembered(query, row_id, *row):
        key = (where, query)
        with _LOCK:
            answers = _REMEMBERED.get(key)
            if answers is None:
                while len(_REMEMBERED) >= REMEMBERED_QUERIES:
                    del _REMEMBERED[next(iter(_REMEMBERED))]
                answers = _REMEMBERED[key] = {}
            known = answers.get(row_id)
        if known is None:
            known = bool(function(query, row_id, *row))
            with _LOCK:
                if len(answers) < REMEMBERED_ROWS:
                    answers[row_id] = known
        return known

    return remembered


def prepare(conn):
    """Called by the plugin's prepare_connection hook, after Datasette's own."""
    # Runs after Datasette's own prepare_connection, so this escape_fts
    # replaces the stock one: the table search box, ?_search= and
    # datasette-search-all all call escape_fts(:search). Other databases keep
    # the stock function, since their indexes hold plain words.
    if built_by_this_bundle(conn):
        # A query that does not parse never reaches it (search_syntax.py
        # answers 400 first); should one, it matches nothing.
        conn.create_function("escape_fts", 1, _never_raise(fts_query, MATCH_NOTHING), deterministic=True)
        # A column search's (?_search_title=, hkcnews/site/filters.py), and
        # the canned search's headline matches, which it lists first.
        conn.create_function("search_column_fts", 2, _never_raise(column_fts_query, MATCH_NOTHING), deterministic=True)
        # The exact check of a NEAR search's candidates (terms.check_sql),
        # each answer kept for the next query of the same page.
        database = conn.execute("pragma database_list").fetchone()[2]
        for name, (arity, function) in SQL_FUNCTIONS.items():
            if arity == 5:
                function = _remembered(function, (database, name))
            conn.create_function(name, arity, _never_raise(function, 0), deterministic=True)
        # A search for a common word reads tens of thousands of article rows
        # by rowid; through mmap each is a memory access instead of a read()
        # call, which halves the time of such pages on the whole archive.
        conn.execute(f"pragma mmap_size = {MMAP_BYTES}")
        # A visitor's SQL runs on this connection: bounded in size as well
        # as in time (hkcnews/site/limits.py).
        bound(conn)
    # search_excerpt(body, q) and search_excerpt(body, q, figures): the
    # passage of a canned query's row (excerpts.py).
    for arity in (2, 3):
        conn.create_function("search_excerpt", arity, _never_raise(article_passage_sql, ""), deterministic=True)
