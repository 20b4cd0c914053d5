"""What keeps an archive's table pages fast however it is served: no
suggested facets on its tables, and the tag facet of a broad search counted
from the most common tags down, with the same counts as counting every hit."""

import random
import sqlite3
from collections import Counter
from urllib.parse import urlencode

import pytest
import sqlite_utils

import hkcnews.site.facets
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
async def test_tag_facet_of_a_broad_search_counts_every_hit(tagged_db, monkeypatch, batch, size):
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
async def test_tag_facet_of_a_broad_search_breaks_ties_by_name(tmp_path, monkeypatch, batch):
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
async def test_tag_facet_of_any_search_counts_every_hit(tagged_db, query):
    ds = datasette_for(tagged_db)
    ids = await hit_ids(ds, query)
    results, truncated, _ = await tag_facet(ds, _search=query, _facet_size=5)
    assert (results, truncated) == expected_tag_facet(tagged_db, ids, 5)


async def test_tag_facet_of_a_broad_search_with_a_filter(tagged_db):
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
async def test_year_facet_counts_the_years_of_the_rows_shown(ds, params):
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
