"""Whatever a visitor types into a search box, every search the bundle
offers answers with a page or a clear 400, never a server error; and SQL
whose one function call would hold a worker for seconds is refused at once
(hkcnews/site/limits.py)."""

import random
import sqlite3
import urllib.parse

import pytest

from hkcnews import compat
from hkcnews.site.limits import MAX_LIKE_PATTERN_BYTES, MAX_VALUE_BYTES, bound, repeated_characters

from .helpers import SQL_CSV

PIECES = [
    # FTS5 syntax and its neighbours
    "AND",
    "OR",
    "NOT",
    "NEAR",
    "NEAR(",
    "NEAR(香港 台灣, 2)",
    "^",
    "*",
    "-",
    "+",
    ":",
    "title:",
    "body:",
    "{title body}:",
    '"',
    '""',
    "'",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "\\",
    "%",
    "_",
    "/",
    ".",
    ",",
    ";",
    "--",
    "/*",
    "*/",
    "'; drop table articles; --",
    '" OR 1=1 --',
    "rank",
    "bm25(",
    "MATCH",
    "escape_fts(",
    # text of every kind
    "香港",
    "港",
    "崔天凯",
    "崔天凱",
    "台灣選舉",
    "Blinken",
    "blinken*",
    "COVID-19",
    "ＣＯＶＩＤ",
    "2021年",
    "１２３",
    "😀",
    "👍🏽",
    "é",
    "e\u0301",
    "\u200b",
    "\u200f",
    "\u202e",
    "\ufeff",
    "\ufffd",
    "ﾟ",
    "㊗",
    "𠀋",
    "العربية",
    "Ελληνικά",
    # characters a URL or a C string might choke on
    "\x00",
    "\x01",
    "\x07",
    "\x08",
    "\x0b",
    "\x1b",
    "\x1f",
    "\x7f",
    "\t",
    "\n",
    "\r\n",
    " ",
    "&",
    "#",
    "?",
    "=",
]


def generated_queries(count=1000, seed=20220104):
    """``count`` search strings built from PIECES, with long and empty ones."""
    rng = random.Random(seed)
    # Long ones as long as a URL can carry: httpx refuses a query string
    # over 64 KB, and 港 takes nine characters percent-encoded.
    long = ["x" * 10_000, "a b " * 2_500, "港" * 7_000, "香港 " * 3_000, '"' * 10_000, "(" * 5_000 + ")" * 4_999]
    queries = dict.fromkeys(["", " ", *long])
    while len(queries) < count:
        pieces = rng.choices(PIECES, k=rng.randint(1, 8))
        joiner = rng.choice(["", " ", "  "])
        queries[joiner.join(pieces)] = None
    return list(queries)


QUERIES = generated_queries()


def test_generated_queries_cover_what_the_issue_lists():
    assert len(set(QUERIES)) == len(QUERIES) >= 1000
    for needle in ["\x00", '"', "*", "(", "NEAR", "OR", "\x1b"]:
        assert any(needle in q for q in QUERIES)
    assert max(len(q) for q in QUERIES) >= 10_000


@pytest.mark.parametrize("endpoint", ["table", "figures", "search_all", "canned"])
async def test_no_query_gives_a_server_error(ds, endpoint):
    requests = {
        "table": lambda q: ("/news/articles.json", {"_search": q, "_size": "5"}),
        # What the /-/search page's script fetches for each table, and the page itself.
        "figures": lambda q: ("/news/figures.json", {"_search": q, "_size": "5"}),
        "search_all": lambda q: ("/-/search", {"q": q}),
        "canned": lambda q: ("/news/search.json", {"q": q}),
    }[endpoint]
    bad, found = [], 0
    for query in QUERIES:
        path, params = requests(query)
        response = await ds.client.get(path, params=params)
        if response.status_code not in (200, 400):
            bad.append((query[:80], response.status_code, response.text[:200]))
        elif path.endswith(".json") and response.status_code == 200:
            found += bool(response.json()["rows"])
    assert bad == []
    # Hostile or not, the words in them still find articles.
    assert found > 0 or endpoint in ("figures", "search_all")


# One call each, each seconds to minutes in SQLite 3.40 under the length
# limit alone: (SQL, status, what the answer says). A fast 200 where the
# function never builds a long value, whatever its arguments.
TOO_BIG = "string or blob too big"
TOO_COMPLEX = "LIKE or GLOB pattern too complex"
CPU_SQL = [
    # printf's %c repeated its character once per call, 900 million calls
    # to answer NULL.
    ("select printf('%.*c', 900000000, 'x')", 400, TOO_BIG),
    ("select format('%.*c', 900000000, 'x')", 400, TOO_BIG),
    ("select printf('%.' || printf('%.*c', 999990, '9') || 'c')", 400, TOO_BIG),
    ("select printf('%.*c%.*c', 600000, 'x', 600000, 'x')", 400, TOO_BIG),
    # 9,000 conversions, each under the limit: half a minute together.
    ("select printf(replace(printf('%.*c', 9000, 'x'), 'x', '%.999999c'))", 400, TOO_BIG),
    # Fast, but NULL with a 200.
    ("select printf('%900000000d', 1)", 400, TOO_BIG),
    ("select format('%0900000000d', 1)", 400, TOO_BIG),
    ("select printf('%.900000000f', 1.0)", 400, TOO_BIG),
    ("select printf('%!.*f', 900000000, 1.0)", 400, TOO_BIG),
    ("select printf('%900000000w', 'x')", 400, TOO_BIG),
    # As SQLite answers them: a precision limits what %q, %s and %z read.
    ("select printf('%.*q', 900000000, 'x')", 200, "x"),
    ("select char(1114112, 99999999999, -1)", 200, "\ufffd\ufffd\ufffd"),
    ("select length(substr(printf('%.*c', 999999, 'x'), 1, 900000000))", 200, 999999),
    ("select length(substr(zeroblob(999999), -900000000, 900000000))", 200, 999999),
    ("select replace(hex(zeroblob(400000)), '0', 'abcdefgh')", 400, TOO_BIG),
    ("select hex(randomblob(600000))", 400, TOO_BIG),
    ("select round(1.5, 900000000)", 200, 1.5),
    # A LIKE or GLOB pattern of m bytes costs a value of n up to n × m: 47 s.
    ("select printf('%.*c', 999999, 'a') like '%' || printf('%.*c', 49000, 'a') || 'b'", 400, TOO_COMPLEX),
    ("select printf('%.*c', 999999, 'a') glob '*' || printf('%.*c', 49000, 'a') || 'b'", 400, TOO_COMPLEX),
]


# Where each line of Datasette answers a query (0.65's /news.json redirects there on 1.0).
SQL_PATHS = (
    {"json": "/news/-/query.json", "html": "/news/-/query"}
    if compat.DATASETTE_1
    else {"json": "/news.json", "html": "/news"}
)


def rows(response):
    """A JSON answer's rows as lists (1.0 gives objects)."""
    return [list(row.values()) if isinstance(row, dict) else row for row in response.json()["rows"]]


def sql_path(form, sql, **params):
    path = {**SQL_PATHS, "csv": SQL_CSV}[form]
    return path + "?" + urllib.parse.urlencode({"sql": sql, **params})


@pytest.mark.parametrize("form", ["json", "csv", "html"])
@pytest.mark.parametrize(("sql", "status", "answer"), CPU_SQL)
async def test_one_long_call_is_refused_at_once(ds, sql, status, answer, form):
    # A 400 that says why is the proof: stock SQLite answers each of these
    # after seconds, with a 200 (NULL) for printf.
    response = await ds.client.get(sql_path(form, sql))
    assert response.status_code == status
    if status == 200 and form == "json":
        assert rows(response) == [[answer]]
    elif status == 400:
        assert answer in response.text
        if answer == TOO_BIG and form == "json":
            assert response.json()["ok"] is False


# The %c arguments are NULL or empty, so that each copy is a NUL byte, which
# nothing else in these formats writes; the precisions come from integers.
FORMAT_PIECES = [
    *["%"] * 4,
    *["c"] * 3,
    *[".", "*"] * 2,
    *"0129l-+ #!,dsqQwznxfgirpTSy",
    "ll",
    "12",
    "%%",
    "中",
    "4294967298",
    # Whole conversions, for the junk around them to break.
    "%.*c",
    "%.3c",
    "%*.*c",
    "%-.*c",
    "%!.12c",
]
FORMAT_ARGS = [
    None,
    "",
    b"",
    0,
    1,
    2,
    3,
    7,
    30,
    -5,
    -(2**31),
    2**32 + 3,
    2**31 + 5,
    "6",
    " 8x",
    4.7,
    -3.2,
    b"9",
    "香港",
]


def stock_connection():
    conn = sqlite3.connect(":memory:")
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    return conn


INT64 = stock_connection()


def precisions(fmt, args):
    """[(character argument, precision)] of the %c conversions of a printf
    call, by repeated_characters and SQLite's rules for a '.*' argument."""
    found = []
    for character, star, precision in repeated_characters(fmt.encode()):
        if star is not None:
            # (int) of SQLite's int64, then printf.c's rule for negatives.
            value = args[star] if star < len(args) else 0
            precision = int(INT64.execute("select printf('%d', ?)", (value,)).fetchone()[0])
            precision = (precision & 0xFFFFFFFF) - ((precision & 0x80000000) << 1)
            if precision < 0:
                precision = -precision if precision >= -0x7FFFFFFF else -1
        found.append((args[character] if character < len(args) else None, precision))
    return found


def generated_formats(count, seed):
    """``count`` printf calls of junk and conversions, but none that would
    keep stock SQLite's %c loop busy (a precision over 10,000)."""
    rng = random.Random(seed)
    made = 0
    while made < count:
        fmt = "".join(rng.choices(FORMAT_PIECES, k=rng.randint(1, 12)))
        args = rng.choices(FORMAT_ARGS, k=rng.randint(0, 8))
        if all(precision <= 10_000 for _, precision in precisions(fmt, args)):
            made += 1
            yield fmt, args


def printf_sql(args):
    return "select printf(?" + ", ?" * len(args) + ")"


def test_the_format_parser_finds_what_sqlite_repeats():
    """repeated_characters against the SQLite at hand: the NUL bytes of an
    answer are the copies of the %c conversions of NULL or empty text."""
    conn = stock_connection()
    conn.text_factory = bytes
    checked = repeated = 0
    for fmt, args in generated_formats(4000, seed=20240601):
        answer = conn.execute(printf_sql(args), (fmt, *args)).fetchone()[0]
        if answer is None:  # empty, or a width over the length limit
            continue
        copies = sum(max(precision, 1) for value, precision in precisions(fmt, args) if value in (None, "", b""))
        assert answer.count(b"\0") == copies, (fmt, args)
        checked += 1
        repeated += copies > 1
    assert checked > 3000 and repeated > 500


def test_the_bounded_printf_answers_as_sqlite_does():
    stock, archive = stock_connection(), sqlite3.connect(":memory:")
    bound(archive)
    for conn in (stock, archive):
        # What Datasette reads of each (datasette/app.py).
        conn.text_factory = lambda b: str(b, "utf-8", "replace")
    refused = 0
    for fmt, args in generated_formats(4000, seed=20240602):
        for name in ("printf", "format"):
            sql = printf_sql(args).replace("printf", name)
            expected = stock.execute(sql, (fmt, *args)).fetchone()[0]
            try:
                assert archive.execute(sql, (fmt, *args)).fetchone()[0] == expected, (fmt, args)
            except sqlite3.DataError as e:
                # Over the length limit, where SQLite answers NULL.
                assert "string or blob too big" in str(e) and expected is None, (fmt, args)
                refused += 1
    assert refused > 0
    # NULL for nothing written, '' for an empty value written, as SQLite.
    assert tuple(
        archive.execute("select printf(''), printf('%s', ''), printf(null), printf('%s', null)").fetchone()
    ) == (
        None,
        "",
        None,
        "",
    )
    # The limit, not a byte less: a value of MAX_VALUE_BYTES - 1 is built.
    length = f"select length(printf('%.*c', {MAX_VALUE_BYTES - 1}, 'x'))"
    assert tuple(archive.execute(length).fetchone()) == stock.execute(length).fetchone() == (MAX_VALUE_BYTES - 1,)


async def test_a_like_pattern_up_to_the_limit_is_answered(ds):
    pattern = "%" + "香" * ((MAX_LIKE_PATTERN_BYTES - 2) // 3) + "%"
    assert len(pattern.encode()) <= MAX_LIKE_PATTERN_BYTES < len((pattern + "香").encode())
    response = await ds.client.get(sql_path("json", "select 'x' like :p", p=pattern))
    assert response.status_code == 200 and rows(response) == [[0]]
    response = await ds.client.get(sql_path("json", "select 'x' like :p", p=pattern + "香"))
    assert response.status_code == 400 and TOO_COMPLEX in response.json()["error"]
    # A table's filter is a LIKE too: a phrase of 85 CJK characters is one too many.
    phrase = "香" * ((MAX_LIKE_PATTERN_BYTES - 2) // 3)
    response = await ds.client.get("/news/articles.json?" + urllib.parse.urlencode({"title__contains": phrase}))
    assert response.status_code == 200
    response = await ds.client.get("/news/articles.json?" + urllib.parse.urlencode({"title__contains": phrase + "香"}))
    assert response.status_code == 400 and TOO_COMPLEX in response.json()["error"]
