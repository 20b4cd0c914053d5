"""The month chart of a search or filter on the articles table, and the
articles per month behind it (hkcnews/site/coverage.py, hkcnews/months.py)."""

import re
import sqlite3
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from datasette.app import Datasette

from .helpers import configured, get_json, html_of, table_json

BAR = re.compile(
    r'<a href="([^"]+)"><rect class="month" data-month="([\d-]+)" data-count="(\d+)"( data-share="([\d.]+)")?'
)


def month_facet(data):
    return [(r["value"], r["count"], r["month_total"], r["share"]) for r in data["facet_results"]["date"]["results"]]


async def test_search_counts_its_articles_per_month(ds):
    data = await table_json(ds, "/news/articles.json", _search="台灣")
    # 50001 and 50002 in January 2020, the seed article in March 2021.
    assert month_facet(data) == [("2020-01", 2, 2, 1.0), ("2021-03", 1, 1, 1.0)]


async def test_filter_counts_its_share_of_each_months_articles(ds):
    data = await table_json(ds, "/news/articles.json", tags__arraycontains="文化")
    # July 2021 has two articles, one of them tagged 文化.
    assert month_facet(data) == [("2021-07", 1, 2, 0.5), ("2021-10", 1, 1, 1.0)]


async def test_unfiltered_table_has_no_month_chart(ds):
    data = await table_json(ds, "/news/articles.json")
    assert "date" not in data["facet_results"]
    assert "hkc-coverage" not in await html_of(ds, "/news/articles")


async def test_next_page_has_no_month_chart(ds):
    first = await table_json(ds, "/news/articles.json", _search="天氣", _size=1)
    assert first["next"]
    second = await table_json(ds, "/news/articles.json", _search="天氣", _size=1, _next=first["next"])
    assert "date" not in second["facet_results"]


async def test_chart_bars_link_to_the_search_narrowed_to_their_month(ds):
    html = await html_of(ds, "/news/articles", _search="台灣")
    counts = [(m, c) for _, m, c, _, share in BAR.findall(html) if not share]
    shares = [(m, s) for _, m, _, _, s in BAR.findall(html) if s]
    assert counts == [("2020-01", "2"), ("2021-03", "1")]
    assert shares == [("2020-01", "1.000000"), ("2021-03", "1.000000")]
    url = BAR.search(html).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(url).query) == {"_search": ["台灣"], "date__startswith": ["2020-01"]}
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    narrowed = await get_json(ds, urlsplit(url).path + ".json", _shape="objects", **query)
    assert [r["id"] for r in narrowed["rows"]] == [50002, 50001]


async def test_chart_bar_titles_say_month_and_count(ds):
    html = await html_of(ds, "/news/articles", _search="台灣")
    assert "<title>2020-01: 2 articles</title>" in html
    assert "<title>2021-03: 1 article, 100.0% of the month's articles</title>" in html


async def test_search_chart_links_to_the_trends_page(ds):
    html = await html_of(ds, "/news/articles", _search="台灣")
    assert '<a class="hkc-trends-link" href="/news/-/trends?q=%E5%8F%B0%E7%81%A3">Compare with other terms</a>' in html


@pytest.mark.parametrize(
    "params", [{"_search": "不存在的詞"}, {"_search": "天氣", "_size": "1", "_next": "2021-07-15,50004"}]
)
async def test_search_without_a_chart_still_links_to_the_trends_page(ds, params):
    html = await html_of(ds, "/news/articles", **params)
    assert "hkc-coverage" not in html
    assert (
        f'<a class="hkc-trends-link" href="/news/-/trends?q={quote(params["_search"])}">Compare with other terms</a>'
        in html
    )


async def test_month_facet_leaves_other_databases_alone(tmp_path, corpus_db):
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("create table articles (id integer primary key, date text)")
        conn.execute("insert into articles values (1, '2021-01-05')")
    ds = Datasette([str(corpus_db), str(other)])
    data = await table_json(ds, "/other/articles.json", _facet_month="date", id="1")
    assert data["facet_results"] == {}


async def test_canned_articles_per_month_counts_what_the_home_chart_draws(ds):
    rows = await get_json(ds, "/news/articles_per_month.json", _shape="array")
    html = await html_of(ds, "/")
    chart = re.findall(r'data-month="([\d-]+)" data-count="(\d+)"', html)
    assert [(r["month"], str(r["articles"])) for r in rows] == chart


async def test_a_searchs_chart_and_facets_read_its_hits_once(corpus_db):
    # The month chart, the year facet (summed from the months) and the
    # category, author and tag facets all count from one read of the hits
    # (hkcnews/site/hits.py): no GROUP BY runs the search again.
    ds = Datasette([str(corpus_db)], settings={"trace_debug": True}, **configured())
    data = await table_json(ds, "/news/articles.json", _search="台灣", _trace="1")
    assert {"date", "year", "category", "author", "tags"} <= set(data["facet_results"])
    searched = [" ".join(t["sql"].split()) for t in data["_trace"]["traces"] if "_fts" in t["sql"]]
    # The page's rows, its count, and its hits.
    assert len(searched) == 3
    assert [sql for sql in searched if "group by" in sql] == []
