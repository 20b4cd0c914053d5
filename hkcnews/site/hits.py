"""A search or filter's matching articles, read once per page, and every
count of its page made from them: the category, author and tag facets, and
the articles per month that the month chart draws and the year facet sums.

Datasette counts each facet with a GROUP BY of its own over the page's SQL,
so a search ran five times more over every hit after its rows and count:
on 29,000 articles a one-character search spent 54 of its 84 ms there.
Here the page's hits are read once, as one comma-separated value of
article ids (from the full-text index alone for a page with a search and
nothing else, ``select group_concat(id) from (the page's SQL)`` for any
other), and each count is a numpy bincount over the columns it counts,
which are read once per database file and kept: each article's category,
author and month, and the rows of article_tags (3.4 MB for the whole
archive). The counts are the GROUP BY's, exactly, in its order: count
descending, then value (SQLite's binary order of text is Python's order of
str). A facet of the page reads the hits whichever asks first, and they
live as long as its request.

A page with more than MAX_HITS hits, a database in memory, or a column
holding other values than text counts with SQL as before."""

import asyncio
import os
import sqlite3
import threading
import weakref

import numpy as np
from datasette.tracer import trace

from hkcnews.internals import STOCK_SEARCH_CLAUSE, time_limited
from hkcnews.months import request_state
from hkcnews.ours import ARTICLES, built_by_us

# The columns of the articles table whose facets count from the hits.
COUNTED = ("category", "author")
# One page's hits take 8 bytes each; read row by row, FETCH rows at a time.
MAX_HITS = 250_000
FETCH = 10_000

_COLUMNS = weakref.WeakKeyDictionary()
_LOAD_LOCK = threading.Lock()


class Columns:
    """What the counts read of one database file: article ids in order,
    and for each article its value of each counted column, its month and
    its tags, as codes that are ranks in the sorted values (-1: null)."""

    def __init__(self, conn):
        cursor = conn.cursor()
        cursor.row_factory = None
        rows = cursor.execute(
            f"select id, {', '.join(COUNTED)}, substr(date, 1, 7) from {ARTICLES} order by id"
        ).fetchall()
        self.ids = np.array([row[0] for row in rows], dtype=np.int64)
        self.values, self.codes = {}, {}
        for i, column in enumerate((*COUNTED, "month"), start=1):
            coded = _coded([row[i] for row in rows])
            if coded is not None:
                self.values[column], self.codes[column] = coded
        tags = cursor.execute("select id, name from tags").fetchall()
        self.tags_counted = all(isinstance(name, str) for _, name in tags)
        if self.tags_counted:
            tags.sort(key=lambda tag: (tag[1], tag[0]))
            self.values["tags"] = [name for _, name in tags]
            tag_ids = np.array([tag_id for tag_id, _ in tags], dtype=np.int64)
            cursor.execute("select article_id, tag_id from article_tags")
            chunks = [np.empty((0, 2), dtype=np.int64)]
            while rows := cursor.fetchmany(FETCH):
                chunks.append(np.array(rows, dtype=np.int64).reshape(-1, 2))
            pairs = np.concatenate(chunks)
            article, tag = self._index(self.ids, pairs[:, 0]), self._index(np.sort(tag_ids), pairs[:, 1])
            known = (article >= 0) & (tag >= 0)
            # A tag's place among the ids in order → its rank by name (its
            # place in tag_ids).
            rank = np.argsort(tag_ids, kind="stable").astype(np.int32)
            self.tag_articles, self.tag_codes = article[known], rank[tag[known]]

    @staticmethod
    def _index(sorted_ids, ids):
        """The position of each of ``ids`` in ``sorted_ids``, -1 where absent."""
        at = np.searchsorted(sorted_ids, ids)
        found = at < len(sorted_ids)
        found[found] = sorted_ids[at[found]] == ids[found]
        return np.where(found, at, -1)


def _coded(values):
    """(sorted distinct values, int32 codes) of a column, or None when it
    holds anything but text and nulls (SQLite orders mixed types its own way)."""
    distinct = set(values)
    distinct.discard(None)
    if not all(isinstance(v, str) for v in distinct):
        return None
    ordered = sorted(distinct)
    rank = {v: i for i, v in enumerate(ordered)}
    return ordered, np.array([rank.get(v, -1) if v is not None else -1 for v in values], dtype=np.int32)


def _file_state(db):
    """What changes when a mutable database file is written to: the file's
    and its write-ahead log's identity, size and modification time."""
    state = []
    for path in (db.path, f"{db.path}-wal"):
        try:
            s = os.stat(path)
            state.append((s.st_ino, s.st_size, s.st_mtime_ns))
        except OSError:
            state.append(None)
    return tuple(state)


def _columns(db, conn):
    """The Columns of ``db``, read once per file: for good if it is
    immutable, until the file changes otherwise."""
    state = None if not db.is_mutable else _file_state(db)
    with _LOAD_LOCK:
        kept = _COLUMNS.get(db)
        if kept is None or kept[0] != state:
            kept = _COLUMNS[db] = (state, Columns(conn))
        return kept[1]


class Hits:
    """The articles one page's SQL selects, and its counts."""

    def __init__(self, columns, positions):
        self.columns = columns
        self._positions = positions
        self._counted = {}

    def counts(self, column, limit=None):
        """[(value, hits), …] of a column (a COUNTED one, "month" or
        "tags") with at least one hit, count descending, then value: the
        first ``limit`` of them, or every one; None if this column is not
        counted here."""
        key = (column, limit)
        if key not in self._counted:
            self._counted[key] = self._count(column, limit)
        return self._counted[key]

    def months(self):
        """[(YYYY-MM, hits), …] in month order, as hkcnews/months.py counts them."""
        counts = self.counts("month")
        return None if counts is None else sorted(counts)

    def _count(self, column, limit):
        columns = self.columns
        if column == "tags":
            if not columns.tags_counted:
                return None
            shown = np.zeros(len(columns.ids), dtype=bool)
            shown[self._positions] = True
            codes = columns.tag_codes[shown[columns.tag_articles]]
        elif column in columns.codes:
            codes = columns.codes[column][self._positions]
            codes = codes[codes >= 0]
        else:
            return None
        values = columns.values[column]
        counts = np.bincount(codes, minlength=len(values))
        found = np.flatnonzero(counts)
        # Codes are ranks by value, so one integer orders by count
        # descending, then value.
        order = -counts[found] * len(values) + found
        if limit is not None and limit < len(found):
            first = np.argpartition(order, limit)[:limit]
            found, order = found[first], order[first]
        found = found[np.argsort(order, kind="stable")]
        return [(values[i], int(counts[i])) for i in found]


# The page of a search and nothing else selects the articles its index
# matches: their ids are read from the index alone, without a row of the
# table (2 ms for a search in 28,000 articles, where reading them through
# the table's SQL took 15 ms). filters.py gives the clause this form.
SEARCH_ONLY = f" from {ARTICLES} where +{STOCK_SEARCH_CLAUSE.format(fts=f'{ARTICLES}_fts')}"
INDEX_IDS = f"select group_concat(rowid) from {ARTICLES}_fts where {ARTICLES}_fts match escape_fts(:search)"


def ids_sql(sql):
    """SQL of one value: the ids of the articles ``sql`` selects, joined by commas."""
    if sql.rstrip().endswith(SEARCH_ONLY):
        return INDEX_IDS
    return f"select group_concat(id) from ({sql})"


def _read_ids(conn, sql, params):
    """The ids of the articles ``sql`` selects, as an array, or None past MAX_HITS."""
    cursor = conn.cursor()
    cursor.row_factory = None
    try:
        joined = cursor.execute(ids_sql(sql), params).fetchone()[0]
    except sqlite3.DataError:
        # Longer than SQLite's length limit (hkcnews/site/limits.py): read row by row.
        joined = None
    else:
        ids = np.fromiter(map(int, joined.split(",")), dtype=np.int64) if joined else np.empty(0, dtype=np.int64)
        return ids if len(ids) <= MAX_HITS else None
    chunks, total = [], 0
    cursor.execute(f"select id from ({sql})", params)
    while rows := cursor.fetchmany(FETCH):
        total += len(rows)
        if total > MAX_HITS:
            return None
        chunks.append(np.array(rows, dtype=np.int64).reshape(-1))
    return np.concatenate(chunks) if chunks else np.empty(0, dtype=np.int64)


async def preload(datasette):
    """At startup: the Columns of every archive file Datasette serves, so
    that no reader's first search waits for them."""
    for name, db in datasette.databases.items():
        if not db.is_memory and await built_by_us(datasette, name):
            await db.execute_fn(lambda conn, db=db: _columns(db, conn))


async def page_hits(datasette, database, sql, params, row_count=None):
    """The Hits of a page's SQL (its facets' ``sql``: the articles table's
    rows without order or limit), read once per request whichever facet
    asks first; None where the counts are SQL's (see the module's doc).
    Raises Datasette's QueryInterrupted past the facet time limit."""
    db = datasette.get_database(database)
    if db.is_memory or (row_count is not None and row_count > MAX_HITS):
        return None
    limit = min(datasette.setting("facet_time_limit_ms"), datasette.setting("sql_time_limit_ms"))

    def read(conn):
        columns = _columns(db, conn)
        with time_limited(conn, limit, sql, params):
            ids = _read_ids(conn, sql, params)
        if ids is None:
            return None
        positions = Columns._index(columns.ids, ids)
        return Hits(columns, positions[positions >= 0])

    # Traced as Datasette's own queries are, for ?_trace=1.
    with trace("sql", database=database, sql=ids_sql(sql), params=params):
        return await db.execute_fn(read)


def request_hits(facet):
    """page_hits for a facet of the articles table, once per request and
    SQL: an awaitable shared by the page's facets."""
    key = (facet.database, facet.sql, repr(facet.params))
    read = request_state(facet.request).setdefault("hits", {})
    if key not in read:
        read[key] = asyncio.ensure_future(
            page_hits(facet.ds, facet.database, facet.sql, facet.params, getattr(facet, "row_count", None))
        )
    return read[key]
