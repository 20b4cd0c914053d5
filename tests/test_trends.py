"""The trends page: terms compared month by month (hkcnews/site/trends.py)."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from datasette.app import Datasette

from .helpers import get_json, html_of, private_archive, table_json

# The corpus's articles by month: 2020-01 two, 2021-03 one (the seed),
# 2021-07 two, 2021-10 one; the months between have none.
MONTHS = [f"{y}-{m:02d}" for y, m in [(2020, m) for m in range(1, 13)] + [(2021, m) for m in range(1, 11)]]


def series(data, term):
    return {r["month"]: (r["terms"][term]["articles"], r["terms"][term]["share"]) for r in data["rows"]}


async def test_trends_json_has_every_month_of_the_archive_for_each_term(ds):
    data = await get_json(ds, "/news/-/trends.json", q=["天氣", "台灣"])
    assert data["terms"] == ["天氣", "台灣"]
    assert [r["month"] for r in data["rows"]] == MONTHS
    assert {m: c for m, c in series(data, "天氣").items() if c[0]} == {"2021-07": (2, 1.0)}
    assert {m: c for m, c in series(data, "台灣").items() if c[0]} == {"2020-01": (2, 1.0), "2021-03": (1, 1.0)}
    assert data["rows"][0]["all_articles"] == 2 and data["rows"][1]["all_articles"] == 0


async def test_trends_csv_is_one_row_per_month(ds):
    response = await ds.client.get("/news/-/trends.csv", params={"q": ["展覽", "天氣"]})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    lines = response.text.split("\r\n")
    assert lines[0] == "month,all_articles,展覽,展覽 share,天氣,天氣 share"
    assert len(lines) == 1 + len(MONTHS) + 1 and lines[-1] == ""
    assert lines[1] == "2020-01,2,0,0.0,0,0.0"
    assert "2021-07,2,1,0.5,2,1.0" in lines
    assert "2021-10,1,0,0.0,0,0.0" in lines


async def test_terms_are_searched_as_the_search_box_searches(ds):
    # Simplified 天气 finds the traditional 天氣 of the articles.
    simplified = await get_json(ds, "/news/-/trends.json", q="天气")
    traditional = await get_json(ds, "/news/-/trends.json", q="天氣")
    assert series(simplified, "天气") == series(traditional, "天氣")
    table = await table_json(ds, "/news/articles.json", _search="天气")
    assert sum(n for n, _ in series(simplified, "天气").values()) == table["filtered_table_rows_count"] == 2


async def test_trends_page_draws_a_line_per_term_linking_each_month_to_its_search(ds):
    html = await html_of(ds, "/news/-/trends", q=["天氣", "台灣", "文化"])
    assert re.findall(r'<polyline class="term" data-term="([^"]+)"', html) == ["天氣", "台灣", "文化"] * 2
    point = re.search(
        r'<a href="([^"]+)"><circle class="point" data-term="天氣" data-month="2021-07" data-count="2"', html
    )
    query = parse_qs(urlsplit(point.group(1).replace("&amp;", "&")).query)
    assert query == {"_search": ["天氣"], "date__startswith": ["2021-07"]}
    assert "<title>天氣, 2021-07: 2 articles, 100.0% of the month's articles</title>" in html
    assert (
        '<a href="/news/-/trends.csv?q=%E5%A4%A9%E6%B0%A3&amp;q=%E5%8F%B0%E7%81%A3&amp;q=%E6%96%87%E5%8C%96">CSV</a>'
        in html
    )


async def test_trends_page_without_terms_offers_an_example(ds):
    html = await html_of(ds, "/news/-/trends")
    assert "<polyline" not in html
    assert (
        'href="/news/-/trends?q=%E5%9C%8B%E5%AE%89%E6%B3%95&amp;q=23%E6%A2%9D&amp;q=%E5%88%9D%E9%81%B8">國安法, 23條, 初選</a>'
        in html
    )


@pytest.mark.parametrize("path", ["/news/-/trends", "/news/-/trends.csv", "/news/-/trends.json"])
async def test_more_than_five_terms_is_a_bad_request(ds, path):
    response = await ds.client.get(path, params={"q": ["一", "二", "三", "四", "五", "六"]})
    assert response.status_code == 400
    assert "q: at most 5 terms, not 6" in response.text


@pytest.mark.parametrize("path", ["/news/-/trends.csv", "/news/-/trends.json"])
async def test_data_without_terms_is_a_bad_request(ds, path):
    response = await ds.client.get(path)
    assert response.status_code == 400
    assert "q: give one term or more" in response.text


async def test_trends_only_for_our_databases(tmp_path, corpus_db):
    other = tmp_path / "other.db"
    other.write_bytes(b"")
    ds = Datasette([str(corpus_db), str(other)])
    assert (await ds.client.get("/other/-/trends", params={"q": "天氣"})).status_code == 404
    assert (await ds.client.get("/missing/-/trends.json", params={"q": "天氣"})).status_code == 404


async def test_trends_need_permission_to_view_the_database(corpus_db):
    ds = private_archive(corpus_db)
    assert (await ds.client.get("/news/-/trends.json", params={"q": "天氣"})).status_code == 403
    cookies = {"ds_actor": ds.sign({"a": {"id": "editor"}}, "actor")}
    assert (await ds.client.get("/news/-/trends.json", params={"q": "天氣"}, cookies=cookies)).status_code == 200


async def test_home_page_links_to_the_trends_page(ds):
    html = await html_of(ds, "/")
    assert '<a class="hkc-trends-link" href="/news/-/trends">比較詞語走勢 Compare terms over time</a>' in html


async def test_trends_page_title_and_heading_are_in_chinese_and_english(ds):
    html = await html_of(ds, "/news/-/trends")
    assert "<title>比較詞語走勢 Terms compared over time</title>" in html
    assert "<h1>比較詞語走勢 Terms compared over time</h1>" in html


async def test_trends_page_title_with_terms_keeps_them_beside_the_english(ds):
    html = await html_of(ds, "/news/-/trends", q=["天氣", "台灣"])
    assert "<title>比較詞語走勢 天氣, 台灣 over time</title>" in html


async def test_trends_form_is_labelled_in_chinese_and_english(ds):
    html = await html_of(ds, "/news/-/trends")
    assert 'aria-label="詞語 Term 1"' in html
    assert '<input type="submit" value="比較 Compare">' in html


async def test_trends_table_headers_and_links_are_in_chinese_and_english(ds):
    html = await html_of(ds, "/news/-/trends", q="天氣")
    assert "<th>詞語 Term</th><th>有日期的文章 Articles with a date</th><th>上下文 In context</th>" in html
    assert '<a href="/news/-/concordance?q=%E5%A4%A9%E6%B0%A3">詞語索引 Concordance</a>' in html


async def test_trends_chart_choices_are_in_chinese_and_english(ds):
    html = await html_of(ds, "/news/-/trends", q="天氣")
    assert '<label for="hkc-trends-0">每月文章 Articles per month</label>' in html
    assert '<label for="hkc-trends-1">佔每月文章比例 Share of each month&#x27;s articles</label>' in html


async def test_a_hostile_term_stays_text_on_the_trends_page(ds):
    term = '<script>alert(1)</script>"\'"'  # quotes closed: it parses
    html = await html_of(ds, "/news/-/trends", q=term)
    assert "<script>alert(1)" not in html
    assert 'data-term="&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#x27;&quot;"' in html
    assert 'value="&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;&#34;"' in html
