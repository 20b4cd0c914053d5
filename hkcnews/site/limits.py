"""What one query may cost an archive's server process, set on every
connection Datasette opens to a database build_db.py made.

Arbitrary SQL is open to every visitor, and SQLite will build any value it
is asked for: ``zeroblob(900000000)`` or ``group_concat(body)`` over every
article made a worker allocate gigabytes until the kernel killed it. Three
bounds, each the cheapest that stops one kind of request:

- SQLite's length limit on every string and blob (``string or blob too
  big``), far above the longest real value (43,862 characters of body,
  about 130 KB of UTF-8): the blow-ups of ``zeroblob``, ``randomblob``,
  ``printf('%.*c')``, ``replace``, ``hex``, ``group_concat`` and recursive
  CTEs fail as soon as one value passes it. A result column limit keeps one
  row of such values small. Python gained ``Connection.setlimit`` in 3.11;
  on 3.10 these two are SQLite's compiled defaults (a gigabyte, 2,000).
- A budget for the values of one result, counted as Python receives each
  row: a thousand rows of large values fail with ``result too large``
  before they are rendered as a page.
- SQLite's hard heap limit for the whole process, which no single query
  reaches within the two bounds above, for whatever they miss.

Written here because Datasette bounds a query's time and row count, not
its size, and no plugin does this.
"""

import sqlite3
import sys
import weakref

# Eight times the longest real value in bytes; a page of the articles
# table, bodies and all, is 200 times smaller than the result budget.
MAX_VALUE_BYTES = 1_000_000
MAX_COLUMNS = 100
# Characters and bytes of the values of one result: rendered as JSON a CJK
# character takes six bytes (\uXXXX), so this bounds a response near 150 MB.
MAX_RESULT_SIZE = 24_000_000
MAX_HEAP_BYTES = 256 * 1024**2

VALUE_TOO_LARGE = (
    "value too large: a value of this query would be longer than {limit:,} bytes, "
    "the most one value may take here (SQLite: {error})"
)
HEAP_TOO_SMALL = (
    "value too large: this query needs more than {limit:,} MB of memory, the most a server process "
    "gives SQLite here (SQLite: out of memory)"
)
RESULT_TOO_LARGE = (
    "result too large: the values of this query's rows add up to more than {limit:,} characters, "
    "the most one answer may hold here. Ask for fewer or shorter columns, or download a table's "
    "whole result as CSV or JSON lines (/news/articles.csv?_stream=on, /news/articles.jsonl)"
)


class ResultTooLarge(sqlite3.OperationalError):
    """A result whose values pass MAX_RESULT_SIZE. An OperationalError,
    which Datasette's table and query views answer with status 400."""


def bound(conn):
    """Sets the limits above on ``conn`` and counts each result's size."""
    if sys.version_info >= (3, 11):
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
        conn.setlimit(sqlite3.SQLITE_LIMIT_COLUMN, MAX_COLUMNS)
    # Lowers the process's limit; it never raises one already lower.
    conn.execute(f"pragma hard_heap_limit = {MAX_HEAP_BYTES}")
    conn.row_factory = _counting_rows(conn.row_factory or sqlite3.Row)


def _counting_rows(make_row):
    # Each execute makes a new cursor, so the count is per result.
    spent = weakref.WeakKeyDictionary()

    def row_factory(cursor, row):
        size = spent.get(cursor, 0)
        for value in row:
            if isinstance(value, (str, bytes)):
                size += len(value)
        if size > MAX_RESULT_SIZE:
            spent.pop(cursor, None)
            raise ResultTooLarge(RESULT_TOO_LARGE.format(limit=MAX_RESULT_SIZE))
        spent[cursor] = size
        return make_row(cursor, row)

    return row_factory


def too_large_message(exception):
    """The message for a visitor whose query asked for a value over the
    length limit (SQLite's ``string or blob too big``, raised by Python as
    DataError, which Datasette's views do not catch), or None for any
    other exception."""
    if isinstance(exception, sqlite3.DataError) and "too big" in str(exception):
        return VALUE_TOO_LARGE.format(limit=MAX_VALUE_BYTES, error=exception)
    if isinstance(exception, MemoryError):
        return HEAP_TOO_SMALL.format(limit=MAX_HEAP_BYTES // 1024**2)
    return None
