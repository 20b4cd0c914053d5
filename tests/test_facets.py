"""What keeps an archive's table pages fast however it is served: no
suggested facets on its tables, every facet and the month chart of a search
or filter counted from its hits read once (hkcnews/site/hits.py), with the
counts and order of Datasette's GROUP BY, and, past what that keeps in
memory, the tag facet of a broad search counted from the most common tags
down, with the same counts as counting every hit."""

import random
import sqlite3
import sys
from collections import Counter
from urllib.parse import urlencode

import pytest
import sqlite_utils

import hkcnews.site.facets
import hkcnews.site.hits
from build_db import build

from .helpers import EXTRA, article_md, datasette_for, seeds_with, table_json

# What table_json adds to a toggle URL's query string.
EXTRA_QUERY = "".join(f"&{urlencode({k: v})}" for k, v in EXTRA.items())

TAGS = [f"標籤{n:02d}" for n in range(12)]


@pytest.fixture(scope="module")
def tagged_db(tmp_path_factory):
    """60 articles with 1-6 of 12 tags each, and 常見 in three quarters of
    them, 少見 in a tenth. 甲, the most common tag, is on nearly every
    article without 常見, so among its hits it ranks low: the facet must
    not stop at the tags most common in the whole archive."""
    rnd = random.Random(3)
    files = {}
    for n in range(60):
        tags = set(rnd.choices(TAGS, weights=range(24, 12, -1), k=rnd.randint(1, 6)))
        if n % 4 == 0 and n != 0 or n in (1, 2):
            tags.add("甲")
        tags = sorted(tags)
        words = ("常見" if n % 4 else "") + ("少見" if n % 10 == 0 else "")
        files[f"a/{70000 + n}.md"] = article_md(
            70000 + n, f"第{n}篇", f"內文{words}第{n}段。", date=f"2021-{n % 12 + 1:02d}-01", tags=tags, slug=str(n)
        )
    folder = tmp_path_factory.mktemp("tagged")
    db = folder / "news.db"
    build(seeds_with(folder, files), db)
    return db


@pytest.fixture(params=["hits", "sql"])
def counting(request, monkeypatch):
    """Each test of a facet twice: counted from the page's hits, and with
    SQL as a page with more hits than hits.py keeps is counted."""
    if request.param == "sql":
        monkeypatch.setattr(hkcnews.site.hits, "MAX_HITS", 0)
    return request.param


def expected_tag_facet(db, ids, size):
    """Every hit's tags counted in Python: the facet's [(tag, count)], most
    first, then by name, and whether more tags had hits."""
    conn = sqlite3.connect(db)
    counts = Counter(
        name
        for (name,) in conn.execute(
            "select tags.name from article_tags join tags on tags.id = article_tags.tag_id "
            f"where article_id in ({','.join('?' * len(ids))})",
            ids,
        )
    )
    ranked = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    return ranked[:size], len(ranked) > size


async def tag_facet(ds, **params):
    data = await table_json(ds, "/news/articles.json", _facet_array="tags", **params)
    facet = data["facet_results"]["tags"]
    return [(r["value"], r["count"]) for r in facet["results"]], facet["truncated"], data["filtered_table_rows_count"]


async def hit_ids(ds, query):
    response = await ds.client.get(
        "/news/articles.json", params={"_search": query, "_size": "max", "_col": "id", "_shape": "array"}
    )
    return [row["id"] for row in response.json()]


def count_in_rounds(monkeypatch, batch):
    """Rounds of ``batch`` tags, the first one too: no estimate of how many
    tags the first round needs, so the facet must find when to stop."""
    monkeypatch.setattr(hkcnews.site.facets, "COMMON_TAGS_BATCH", batch)
    monkeypatch.setattr(hkcnews.site.facets, "FIRST_ROUND_MARGIN", 1e9)


@pytest.mark.parametrize("batch", [1, 2, 5, 64, None])
@pytest.mark.parametrize("size", [1, 3, 8, 30])
async def test_tag_facet_of_a_broad_search_counts_every_hit(tagged_db, monkeypatch, batch, size, counting):
    # Rounds of one tag make the search for the settled list take many
    # rounds; a facet size of 1 makes ties at the cut-off likely. None: as
    # served, the first round as large as the estimate says.
    if batch:
        count_in_rounds(monkeypatch, batch)
    ds = datasette_for(tagged_db)
    ids = await hit_ids(ds, "常見")
    assert len(ids) == 45
    results, truncated, count = await tag_facet(ds, _search="常見", _facet_size=size)
    assert count == 45
    assert (results, truncated) == expected_tag_facet(tagged_db, ids, size)


@pytest.mark.parametrize("batch", [1, 2, 64])
async def test_tag_facet_of_a_broad_search_breaks_ties_by_name(tmp_path, monkeypatch, batch, counting):
    # Three tags with as many hits, met in the order 乙3, 乙2, 乙1, so counted
    # in that order: the facet must not settle on a tag before it has
    # counted every tag that could tie with it and comes first by name.
    files = {
        f"a/{80000 + n}.md": article_md(80000 + n, f"第{n}篇", "常見的內文。", tags=[f"乙{3 - n // 2}"], slug=str(n))
        for n in range(6)
    }
    build(seeds_with(tmp_path, files), tmp_path / "news.db")
    first = sqlite_utils.Database(tmp_path / "news.db").execute("select name from tags order by id limit 3").fetchall()
    assert first == [("乙3",), ("乙2",), ("乙1",)]
    count_in_rounds(monkeypatch, batch)
    ds = datasette_for(tmp_path / "news.db")
    assert await tag_facet(ds, _search="常見", _facet_size=1) == ([("乙1", 2)], True, 6)


@pytest.mark.parametrize("query", ["少見", "第1", "內文"])
async def test_tag_facet_of_any_search_counts_every_hit(tagged_db, query, counting):
    ds = datasette_for(tagged_db)
    ids = await hit_ids(ds, query)
    results, truncated, _ = await tag_facet(ds, _search=query, _facet_size=5)
    assert (results, truncated) == expected_tag_facet(tagged_db, ids, 5)


async def test_tag_facet_of_a_broad_search_with_a_filter(tagged_db, counting):
    ds = datasette_for(tagged_db)
    response = await ds.client.get(
        "/news/articles.json",
        params={"_search": "常見", "date__gte": "2021-03-01", "_size": "max", "_col": "id", "_shape": "array"},
    )
    ids = [row["id"] for row in response.json()]
    assert 20 < len(ids) < 45
    results, truncated, _ = await tag_facet(ds, _search="常見", date__gte="2021-03-01", _facet_size=4)
    assert (results, truncated) == expected_tag_facet(tagged_db, ids, 4)


@pytest.mark.parametrize("table", ["articles", "figures", "tags", "captures"])
async def test_archive_tables_suggest_no_facets_under_default_settings(corpus_db, table):
    # datasette_for uses Datasette's defaults, suggest_facets on.
    assert (await table_json(datasette_for(corpus_db), f"/news/{table}.json"))["suggested_facets"] == []


async def test_other_databases_still_get_suggested_facets(tmp_path):
    db = sqlite_utils.Database(tmp_path / "other.db")
    db["things"].insert_all({"id": i, "colour": ["red", "blue"][i % 2]} for i in range(10))
    data = await table_json(datasette_for(tmp_path / "other.db"), "/other/things.json")
    assert [s["name"] for s in data["suggested_facets"]] == ["colour"]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"_search": "台灣"},
        {"_search": "天氣"},
        {"category": "國際"},
        {"tags__arraycontains": "文化"},
        {"year": "2021"},
    ],
)
async def test_year_facet_counts_the_years_of_the_rows_shown(ds, params, counting):
    data = await table_json(ds, "/news/articles.json", **params, _size="max", _shape="objects")
    years = Counter(row["year"] for row in data["rows"] if row["year"] is not None)
    facet = data["facet_results"]["year"]
    assert [(r["value"], r["count"]) for r in facet["results"]] == sorted(years.items(), key=lambda p: (-p[1], p[0]))
    assert [r["selected"] for r in facet["results"]] == [
        str(r["value"]) == params.get("year") for r in facet["results"]
    ]
    assert facet["truncated"] is False


async def test_year_facet_links_as_datasettes_column_facet_does(ds):
    data = await table_json(ds, "/news/articles.json", _search="台灣", _facet_size="1")
    facet = data["facet_results"]["year"]
    search = f"_search=%E5%8F%B0%E7%81%A3&_facet_size=1{EXTRA_QUERY}"
    assert facet["results"] == [
        {
            "value": 2020,
            "label": 2020,
            "count": 2,
            "toggle_url": f"http://localhost/news/articles.json?{search}&year=2020",
            "selected": False,
        }
    ]
    assert facet["truncated"] is True
    assert facet["toggle_url"] == f"/news/articles.json?{search}"
    selected = await table_json(ds, "/news/articles.json", _search="台灣", year="2020")
    (year,) = selected["facet_results"]["year"]["results"]
    assert year["selected"] is True
    assert year["toggle_url"] == f"http://localhost/news/articles.json?_search=%E5%8F%B0%E7%81%A3{EXTRA_QUERY}"


CATEGORIES = ["眾聞", "眾評", "國際", "Sport", "sport"]
AUTHORS = ["甲記者", "乙記者", "丙記者", "Staff Reporter", "眾新聞記者"]


@pytest.fixture(scope="module")
def varied_db(tmp_path_factory):
    """90 articles over 30 months, of five categories and authors (ties
    among their counts likely, two differing only in case), 1-4 of 12 tags,
    with 常見 in most of them and 少見 in a few."""
    rnd = random.Random(11)
    files = {}
    for n in range(90):
        words = ("常見" if n % 5 else "") + ("少見" if n % 9 == 0 else "") + ("Common" if n % 2 else "")
        files[f"v/{90000 + n}.md"] = article_md(
            90000 + n,
            f"第{n}篇",
            f"內文{words}第{n}段。",
            date=f"{2019 + n % 3}-{n % 10 + 1:02d}-{n % 27 + 1:02d}",
            author=rnd.choice(AUTHORS),
            category=rnd.choice(CATEGORIES),
            tags=sorted(set(rnd.choices(TAGS, k=rnd.randint(1, 4)))),
            slug=str(n),
        )
    folder = tmp_path_factory.mktemp("varied")
    db = folder / "news.db"
    build(seeds_with(folder, files), db)
    return db


def group_by(db, select, ids):
    """[(value, count)] of an SQL GROUP BY over the articles ``ids``: count desc, then value."""
    conn = sqlite3.connect(db)
    marks = ",".join("?" * len(ids))
    return conn.execute(
        f"select value, count(*) as n from ({select.format(ids=marks)}) where value is not null "
        "group by value order by n desc, value",
        [*ids] * select.count("{ids}"),
    ).fetchall()


PAGES = [
    {"_search": "常見"},
    {"_search": "少見"},
    {"_search": "Common"},
    {"_search": "常見 -少見"},
    {"_search": "常見", "category": "眾評"},
    {"_search": "常見", "tags__arraycontains": "標籤03"},
    {"_search": "常見", "date__gte": "2020-01-01", "_sort": "id"},
    {"_search": "常見", "_facet_size": "2"},
    {"_search": "常見", "_nocount": "1"},
    {"_search": "不存在"},
    {"category": "sport"},
    {"tags__arraycontains": "標籤01"},
    {"author": "甲記者", "_facet_size": "max"},
]


def facets_of(data):
    return {name: facet for name, facet in data["facet_results"].items()}


@pytest.mark.parametrize("params", PAGES, ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()))
async def test_facets_from_the_hits_are_the_group_bys(varied_db, monkeypatch, params):
    # Every facet and the month chart, whole (values, labels, counts,
    # links, selection, truncation), as SQL counts them.
    from_hits = await table_json(datasette_for(varied_db), "/news/articles.json", **params)
    monkeypatch.setattr(hkcnews.site.hits, "MAX_HITS", 0)
    from_sql = await table_json(datasette_for(varied_db), "/news/articles.json", **params)
    assert set(from_hits["facet_results"]) == {"date", "category", "tags", "author", "year"}
    assert from_hits["facet_results"] == from_sql["facet_results"]
    assert from_hits["filtered_table_rows_count"] == from_sql["filtered_table_rows_count"]
    assert from_hits.get("facets_timed_out", []) == []


@pytest.mark.parametrize("query", ["常見", "Common", "少見"])
async def test_facet_counts_of_a_search_are_exact(varied_db, query):
    # Against GROUP BYs over the search's hits, run here in SQLite.
    ds = datasette_for(varied_db)
    ids = await hit_ids(ds, query)
    data = await table_json(ds, "/news/articles.json", _search=query, _facet_size="max")
    facets = data["facet_results"]
    for column in ("category", "author"):
        expected = group_by(varied_db, f"select {column} as value from articles where id in ({{ids}})", ids)
        assert [(r["value"], r["count"]) for r in facets[column]["results"]] == expected
    tags = group_by(
        varied_db,
        "select tags.name as value from article_tags join tags on tags.id = tag_id where article_id in ({ids})",
        ids,
    )
    assert [(r["value"], r["count"]) for r in facets["tags"]["results"]] == tags
    months = group_by(varied_db, "select substr(date, 1, 7) as value from articles where id in ({ids})", ids)
    assert [(r["value"], r["count"]) for r in facets["date"]["results"]] == sorted(months)


async def test_facet_counts_follow_a_file_written_while_served(tmp_path):
    # A database Datasette serves as mutable may change: the counts are
    # read again when it does.
    files = {
        f"m/{60000 + n}.md": article_md(60000 + n, f"第{n}篇", "常見的內文。", category="眾聞", slug=str(n))
        for n in range(4)
    }
    build(seeds_with(tmp_path, files), tmp_path / "news.db")
    ds = datasette_for(tmp_path / "news.db")

    async def categories():
        data = await table_json(ds, "/news/articles.json", _search="常見")
        return [(r["value"], r["count"]) for r in data["facet_results"]["category"]["results"]]

    assert await categories() == [("眾聞", 4)]
    with sqlite3.connect(tmp_path / "news.db") as conn:
        conn.execute("update articles set category = '眾評' where id = 60001")
    assert await categories() == [("眾聞", 3), ("眾評", 1)]


async def test_a_page_past_the_hits_kept_counts_with_sql(varied_db, monkeypatch):
    # More hits than MAX_HITS: the facets are still there, counted by SQL.
    monkeypatch.setattr(hkcnews.site.hits, "MAX_HITS", 10)
    ds = datasette_for(varied_db)
    page = await hkcnews.site.hits.page_hits(ds, "news", "select * from articles", {})
    assert page is None
    data = await table_json(ds, "/news/articles.json", _search="常見", _nocount="1")
    assert {"date", "category", "tags", "author", "year"} <= set(data["facet_results"])


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Connection.setlimit is Python 3.11's")
def test_hits_too_long_for_one_value_are_read_row_by_row(varied_db):
    conn = sqlite3.connect(varied_db)
    sql = "select id from articles where id % 2 = 0"
    expected = [row[0] for row in conn.execute(sql)]
    assert list(hkcnews.site.hits._read_ids(conn, sql, {})) == expected
    # SQLite's length limit below their comma-separated list.
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 50)
    assert list(hkcnews.site.hits._read_ids(conn, sql, {})) == expected
