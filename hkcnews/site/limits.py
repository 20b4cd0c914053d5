"""What one query may cost an archive's server process, set on every
connection Datasette opens to a database build_db.py made.

Arbitrary SQL is open to every visitor, and SQLite will build any value it
is asked for: ``zeroblob(900000000)`` or ``group_concat(body)`` over every
article made a worker allocate gigabytes until the kernel killed it. Three
bounds, each the cheapest that stops one kind of request:

- SQLite's length limit on every string and blob (``string or blob too
  big``), far above the longest real value (43,862 characters of body,
  about 130 KB of UTF-8): the blow-ups of ``zeroblob``, ``randomblob``,
  ``printf``, ``replace``, ``hex``, ``group_concat`` and recursive CTEs
  fail as soon as one value passes it. A result column limit keeps one
  row of such values small. Python gained ``Connection.setlimit`` in 3.11;
  on 3.10 these two are SQLite's compiled defaults (a gigabyte, 2,000).
- A budget for the values of one result, counted as Python receives each
  row: a thousand rows of large values fail with ``result too large``
  before they are rendered as a page.
- SQLite's hard heap limit for the whole process, which no single query
  reaches within the two bounds above, for whatever they miss.

And two bounds on time. Datasette's time limit is a progress handler,
called between SQLite's VM instructions: it stops a query of many cheap
steps (a recursive CTE), never one function call that runs for seconds.
Two built-ins could:

- ``printf('%.*c', 900000000, 'x')`` (and ``format``): SQLite 3.40, the
  one Python links here, repeats the character in a loop of one call per
  copy that goes on after the copies pass the length limit: 900 million
  calls (3-6 s) to answer NULL, the error dropped. On these connections
  ``printf`` and ``format`` are _bounded_printf's: it adds up what the
  ``%c`` conversions would repeat, refuses more than the length limit at
  once (``string or blob too big``, as ``zeroblob`` is refused), and hands
  everything else to SQLite's own printf on a private in-memory connection,
  so the text is SQLite's; an answer over the limit, which SQLite gives as
  NULL, becomes the same error. A newer SQLite was not the way: the
  packages that bundle one for Python (pysqlite3-binary 0.5.4 with 3.51.1,
  pysqlite3 0.6.1 with 3.53.4, sqlean.py 3.50.4) fix this loop but have no
  ``Connection.setlimit``, so the length limit above, on which every other
  bound rests, would be lost; and they leave LIKE's cost as it is.
- ``LIKE`` and ``GLOB``: a pattern of m bytes against a value of n costs up
  to n × m comparisons in one call, 47 s for SQLite's default limit of
  50,000 bytes against a value at the length limit. MAX_LIKE_PATTERN_BYTES
  keeps the worst under a second (``LIKE or GLOB pattern too complex``).

Not bounded yet, and as slow in SQLite 3.53: ``replace`` and ``instr``
compare a pattern at every position of a value, up to 4 s for a pattern of
half a megabyte that nearly matches a value at the length limit throughout,
and ``trim(x, characters)`` tries each of its characters at each one it
removes, seconds for a few thousand characters.

Written here because Datasette bounds a query's time and row count, not
its size, and no plugin does this. The numbers are in docs/benchmarks.md.
"""

import functools
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
# 85 CJK characters or 256 ASCII ones (a table filter's ?title__contains=
# adds a % on each side); the worst pattern of this length, GLOB character
# classes, against a value at the length limit takes 0.7 s.
MAX_LIKE_PATTERN_BYTES = 256

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
        conn.setlimit(sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH, MAX_LIKE_PATTERN_BYTES)
        # Only where the length limit holds: the refusal is that limit's.
        for name, function in _bounded_printf().items():
            conn.create_function(name, -1, function, deterministic=True)
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


# Returned by a function, a blob longer than the length limit makes SQLite
# fail the statement with its own SQLITE_TOOBIG, "string or blob too big"
# (sqlite3_result_blob checks the length before copying a byte). Raising
# OverflowError would do the same, but print a traceback for each refusal
# (Datasette turns on sqlite3.enable_callback_tracebacks).
_TOO_BIG = bytes(MAX_VALUE_BYTES + 1)
# What sqlite3_str_vappendf (SQLite's src/printf.c) does with each byte of
# a conversion after its '%': the flags it skips, the conversions that take
# an argument (getIntArg, getDoubleArg or getTextArg) and the two that take
# none (%n and %%). Any other byte, or T and S outside SQLite itself, ends
# the formatting there.
_FLAGS = frozenset(b"-+ #!0,")
_DIGITS = frozenset(b"0123456789")
_TAKES_AN_ARGUMENT = frozenset(b"dsgzqQwcouxXfeEGipr")
_TAKES_NONE = frozenset(b"n%")
_CHARACTER = ord("c")
# Formats up to this long are parsed once per process (the last 256 of
# them); a longer one, a value the query built, at each call, about 0.3 s a
# megabyte at worst, and kept out of the cache.
_CACHED_FORMAT_BYTES = 1_000


def repeated_characters(fmt):
    """The ``%c`` conversions SQLite would reach in the printf format
    ``fmt`` (bytes), as [(character, star, precision)]: the index of the
    argument whose first character it repeats, and either the index of the
    argument its ``.*`` takes (star) or the precision written in the format
    (-1 for none), each character repeated that many times.

    A port of the parsing in sqlite3_str_vappendf (SQLite's src/printf.c),
    the same in 3.40 and 3.53 (tests/test_hostile_queries.py checks it
    against the SQLite at hand): the format ends at its first NUL,
    and each ``*``, ``.*`` and conversion other than ``%%``/``%n`` takes the
    next argument, whatever its value."""
    f = fmt.split(b"\0", 1)[0] + b"\0"
    i = used = 0
    runs = []
    while f[i]:
        if f[i] != 0x25:  # literal text up to the next '%'
            i = f.find(b"%", i)
            if i < 0:
                break
        i += 1
        c = f[i]
        if not c:  # a '%' at the end is written as it is
            break
        star, precision = None, -1
        while True:
            done = False
            if c in _FLAGS:
                pass
            elif c == 0x6C:  # 'l', 'll'
                i += 1
                c = f[i]
                if c == 0x6C:
                    i += 1
                    c = f[i]
                done = True
            elif c in _DIGITS:  # a width; '0' was a flag above
                i += 1
                while f[i] in _DIGITS:
                    i += 1
                c = f[i]
                if c != 0x2E and c != 0x6C:
                    done = True
                else:
                    i -= 1
            elif c == 0x2A:  # '*': the width is the next argument
                used += 1
                if f[i + 1] != 0x2E and f[i + 1] != 0x6C:
                    i += 1
                    c = f[i]
                    done = True
            elif c == 0x2E:  # '.': a precision, '.*' the next argument
                i += 1
                c = f[i]
                if c == 0x2A:
                    star = used
                    used += 1
                    i += 1
                    c = f[i]
                else:
                    digits = 0
                    while c in _DIGITS:
                        digits = (digits * 10 + c - 0x30) & 0xFFFFFFFF
                        i += 1
                        c = f[i]
                    star, precision = None, digits & 0x7FFFFFFF
                if c == 0x6C:
                    i -= 1
                else:
                    done = True
            else:
                done = True
            if done:
                break
            i += 1
            c = f[i]
            if not c:
                break
        if c == _CHARACTER:
            runs.append((used, star, precision))
            used += 1
        elif c in _TAKES_AN_ARGUMENT:
            used += 1
        elif c not in _TAKES_NONE:
            break
        i += 1
    return runs


_cached_repeated_characters = functools.lru_cache(maxsize=256)(repeated_characters)


def _bounded_printf():
    """{"printf": function, "format": function} for one connection: each
    refuses a format whose ``%c`` conversions would repeat more than the
    length limit, and otherwise answers what SQLite's own printf answers,
    an answer over that limit refused instead of NULL.

    Exact, argument types and all (Python hands each value back as SQLite
    gave it), but for text that is not UTF-8: as an argument Python cannot
    read it (the call fails, "user-defined function raised exception"), and
    an answer that is not UTF-8 (``%.10s`` cutting a CJK character) comes
    back with the cut character as U+FFFD, the text Datasette would show of
    SQLite's. The cost is Python's: 3 µs a call, 0.3 ms for a 300 KB body
    as an argument and 1.4 ms when it is the answer too (0.02 and 0.11 ms
    in SQLite alone)."""
    # SQLite's printf, on a connection of the same limit and no functions of
    # ours. A Datasette connection is used by one thread at a time, and its
    # printf with it: the next query waits for this one to return.
    real = sqlite3.connect(":memory:", check_same_thread=False)
    real.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    real.text_factory = bytes
    # SQLite allows 127 arguments to a function (SQLITE_MAX_FUNCTION_ARG).
    calls = ["select printf(" + ", ".join("?" * n) + ")" for n in range(128)]
    marked = [None] + ["select printf('x' || ?" + ", ?" * (n - 1) + ")" for n in range(1, 128)]

    def integer(value):
        # sqlite3_value_int64, as getIntArg reads a '*' argument.
        if type(value) is int:
            return value
        return int(real.execute("select printf('%d', ?)", (value,)).fetchone()[0])

    def repeats(fmt, args):
        if isinstance(fmt, str):
            fmt = fmt.encode()
        elif not isinstance(fmt, bytes):
            return 0  # a number's text has no '%'
        runs = (_cached_repeated_characters if len(fmt) <= _CACHED_FORMAT_BYTES else repeated_characters)(fmt)
        total = 0
        for _, star, precision in runs:
            if star is not None:
                # (int) of an int64, then as printf.c treats a negative one.
                precision = integer(args[star]) if star < len(args) else 0
                precision = (precision & 0xFFFFFFFF) - ((precision & 0x80000000) << 1)
                if precision < 0:
                    precision = -precision if precision >= -0x7FFFFFFF else -1
            if precision > 1:
                total += precision - 1
        return total

    def printf(*args):
        if args and repeats(args[0], args[1:]) > MAX_VALUE_BYTES:
            return _TOO_BIG
        try:
            answer = real.execute(calls[len(args)], args).fetchone()[0]
            if answer is None and args and args[0] is not None:
                # An empty answer is NULL too (printf('')): the same call
                # after one character tells it from one over the limit.
                if real.execute(marked[len(args)], args).fetchone()[0] is None:
                    return _TOO_BIG
        except sqlite3.DataError:  # a newer SQLite reports it
            return _TOO_BIG
        return None if answer is None else answer.decode("utf-8", "replace")

    functions = {"printf": printf}
    try:
        real.execute("select format('')")
    except sqlite3.OperationalError:
        pass  # format(), printf's other name, came with SQLite 3.38
    else:
        functions["format"] = printf
    return functions


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
