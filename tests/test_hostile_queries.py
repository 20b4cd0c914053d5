"""Whatever a visitor types into a search box, every search the bundle
offers answers with a page or a clear 400, never a server error."""

import random

import pytest

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
