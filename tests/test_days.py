"""The archive by calendar day: one day's articles (/news/-/day/2021-06-24)
and one month and day in every year (/news/-/on-this-day)
(hkcnews/site/days.py)."""

import datetime as dt
import re
from urllib.parse import parse_qs

import pytest
from datasette.app import Datasette

from build_db import build

from .helpers import (
    article_md,
    configured,
    datasette_for,
    figure_html,
    get_json,
    html_of,
    private_archive,
    write_articles,
)

LONG_BODY = "立法會今日三讀通過**《公司條例》**修訂，[政府新聞稿](https://www.info.gov.hk/)指修訂即時生效。" * 4

HOSTILE_TITLE = "惡意<script>alert(1)</script>"


def _files():
    return {
        # Three on one day, written out of number order.
        "d/61003.md": article_md(
            61003,
            "Legco passes the bill",
            figure_html("legco", "立法會會議廳。何君健攝") + "\nThe bill passed its third reading.",
            date="2021-06-24",
            author="Staff Reporter",
            category="眾聲",
        ),
        "d/61001.md": article_md(
            61001,
            "立法會三讀通過公司條例修訂",
            LONG_BODY,
            date="2021-06-24",
            author="記者甲",
            category="眾聞",
            tags=["立法會", "公司條例"],
        ),
        "d/61002.md": article_md(
            61002, "黃色暴雨警告", "天文台今早發出黃色暴雨警告。", date="2021-06-24", author="記者乙", tags=["天氣"]
        ),
        # The nearest days with articles, four days either side.
        "d/61000.md": article_md(61000, "六月二十日的新聞", "二十日。", date="2021-06-20"),
        "d/61010.md": article_md(61010, "六月二十八日的新聞", "二十八日。", date="2021-06-28"),
        "d/61011.md": article_md(
            61011, HOSTILE_TITLE, "正文。", date="2021-06-28", author="<i>記者</i>", tags=["<b>標籤</b>"]
        ),
        # The same month and day in other years.
        "d/60001.md": article_md(60001, "一年前的今日", "二〇二〇年。", date="2020-06-24"),
        "d/59001.md": article_md(59001, "兩年前的今日", "二〇一九年。", date="2019-06-24"),
        "d/59500.md": article_md(59500, "閏日的新聞", "二月二十九日。", date="2020-02-29"),
        # The first day of the archive.
        "d/58000.md": article_md(58000, "最早的文章", "第一篇。", date="2019-01-05"),
    }


@pytest.fixture(scope="module")
def days_db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("days")
    db = folder / "news.db"
    build(write_articles(folder / "seeds", _files()), db)
    return db


@pytest.fixture
def ds(days_db):
    return datasette_for(days_db)


def ids(rows):
    return [r["id"] for r in rows]


async def test_a_day_lists_its_articles_in_number_order(ds):
    data = await get_json(ds, "/news/-/day/2021-06-24.json")
    assert data["day"] == "2021-06-24"
    assert ids(data["rows"]) == [61001, 61002, 61003]


async def test_a_day_json_row_has_title_author_category_tags_first_lines_and_url(ds):
    data = await get_json(ds, "/news/-/day/2021-06-24.json")
    assert data["rows"][1] == {
        "id": 61002,
        "title": "黃色暴雨警告",
        "date": "2021-06-24",
        "author": "記者乙",
        "category": "眾聞",
        "tags": ["天氣"],
        "first_lines": "天文台今早發出黃色暴雨警告。",
        "url": "/news/articles/61002",
    }


async def test_first_lines_are_the_body_start_as_plain_text_cut_at_120_characters(ds):
    data = await get_json(ds, "/news/-/day/2021-06-24.json")
    # A link's text stands between spaces, as the search excerpts show it.
    sentence = "立法會今日三讀通過《公司條例》修訂， 政府新聞稿 指修訂即時生效。"
    assert data["rows"][0]["first_lines"] == (sentence * 4)[:120] + "…"


async def test_first_lines_leave_out_the_headline_and_captions(ds):
    data = await get_json(ds, "/news/-/day/2021-06-24.json")
    assert data["rows"][2]["first_lines"] == "The bill passed its third reading."


async def test_previous_and_next_are_the_nearest_days_that_have_articles(ds):
    data = await get_json(ds, "/news/-/day/2021-06-24.json")
    assert (data["previous"], data["next"]) == ("2021-06-20", "2021-06-28")
    html = await html_of(ds, "/news/-/day/2021-06-24")
    assert '<a class="hkc-previous-day" href="/news/-/day/2021-06-20">← 前一日 Previous day: 2021-06-20</a>' in html
    assert '<a class="hkc-next-day" href="/news/-/day/2021-06-28">後一日 Next day: 2021-06-28 →</a>' in html


async def test_the_first_day_has_no_previous_day(ds):
    data = await get_json(ds, "/news/-/day/2019-01-05.json")
    assert (data["previous"], data["next"]) == (None, "2019-06-24")
    assert "hkc-previous-day" not in await html_of(ds, "/news/-/day/2019-01-05")


async def test_the_same_day_in_other_years_that_have_articles_is_linked(ds):
    data = await get_json(ds, "/news/-/day/2021-06-24.json")
    assert data["other_years"] == [{"date": "2019-06-24", "articles": 1}, {"date": "2020-06-24", "articles": 1}]
    html = await html_of(ds, "/news/-/day/2021-06-24")
    assert (
        '<p class="hkc-other-years">其他年份 Other years:\n'
        '    <a href="/news/-/day/2019-06-24">2019-06-24</a> (1) · <a href="/news/-/day/2020-06-24">2020-06-24</a> (1)\n'
        "  </p>"
    ) in html


async def test_a_day_page_shows_each_article_with_its_links_in_chinese_and_english(ds):
    html = await html_of(ds, "/news/-/day/2021-06-24")
    assert '<h1>2021年6月24日 星期四 <span lang="en">Thursday, June 24, 2021</span></h1>' in html
    assert '<p class="hkc-day-count">3 篇文章 3 articles,' in html
    article = re.search(r'<li class="hkc-day-article" data-id="61001">(.*?)</li>', html, re.S).group(1)
    assert (
        '<h3 class="hkc-title" lang="zh-Hant-HK"><a href="/news/articles/61001">立法會三讀通過公司條例修訂</a></h3>'
        in article
    )
    assert (
        '作者 Author: <a class="hkc-author" href="/news/articles?author=%E8%A8%98%E8%80%85%E7%94%B2" lang="zh-Hant-HK">記者甲</a>'
        in article
    )
    assert (
        ' · 分類 Category: <a class="hkc-category" href="/news/articles?category=%E7%9C%BE%E8%81%9E" lang="zh-Hant-HK">眾聞</a>'
        in article
    )
    assert re.findall(r'<a class="tag" href="([^"]+)" lang="zh-Hant-HK">([^<]+)</a>', article) == [
        ("/news/articles?tags__arraycontains=%E7%AB%8B%E6%B3%95%E6%9C%83", "立法會"),
        ("/news/articles?tags__arraycontains=%E5%85%AC%E5%8F%B8%E6%A2%9D%E4%BE%8B", "公司條例"),
    ]
    assert '<p class="hkc-first-lines" lang="zh-Hant-HK">立法會今日三讀通過《公司條例》修訂' in article


async def test_a_day_s_tag_links_find_the_articles_with_that_tag(ds):
    html = await html_of(ds, "/news/-/day/2021-06-24")
    url = re.search(r'<a class="tag" href="([^"]+)" lang="zh-Hant-HK">天氣</a>', html).group(1)
    path, query = url.split("?")
    params = {k: v[0] for k, v in parse_qs(query).items()}
    assert (path, params) == ("/news/articles", {"tags__arraycontains": "天氣"})
    rows = await get_json(ds, "/news/articles.json", _shape="objects", **params)
    assert ids(rows["rows"]) == [61002]


async def test_titles_authors_and_tags_stay_text_on_a_day_page(ds):
    html = await html_of(ds, "/news/-/day/2021-06-28")
    assert "<script>alert(1)" not in html and "<i>記者" not in html and "<b>標籤" not in html
    assert ">惡意&lt;script&gt;alert(1)&lt;/script&gt;</a></h3>" in html
    assert ">&lt;b&gt;標籤&lt;/b&gt;</a>" in html


async def test_a_day_without_articles_says_so_with_the_days_around_it(ds):
    html = await html_of(ds, "/news/-/day/2021-06-26")
    assert '<p class="hkc-day-none">這一日沒有文章 No articles on this day.</p>' in html
    assert 'href="/news/-/day/2021-06-24">← 前一日 Previous day: 2021-06-24</a>' in html
    assert 'href="/news/-/day/2021-06-28">後一日 Next day: 2021-06-28 →</a>' in html
    data = await get_json(ds, "/news/-/day/2021-06-26.json")
    assert (data["rows"], data["previous"], data["next"]) == ([], "2021-06-24", "2021-06-28")


@pytest.mark.parametrize("value", ["2021-13-45", "abc", "2021-02-29", "20210624", "2021-6-24"])
@pytest.mark.parametrize("extension", ["", ".json"])
async def test_a_bad_day_is_a_400_naming_the_parameter_and_value(ds, value, extension):
    response = await ds.client.get(f"/news/-/day/{value}{extension}")
    assert response.status_code == 400
    message = f"day: '{value}' is not a date (YYYY-MM-DD, as 2021-06-24)"
    if extension:
        assert response.json() == {"ok": False, "error": message}
    else:
        assert message.replace("'", "&#39;") in response.text


async def test_on_this_day_groups_every_year_s_articles_newest_year_first(ds):
    data = await get_json(ds, "/news/-/on-this-day.json", date="06-24")
    assert data["date"] == "06-24"
    assert [(y["year"], y["date"], ids(y["rows"])) for y in data["years"]] == [
        (2021, "2021-06-24", [61001, 61002, 61003]),
        (2020, "2020-06-24", [60001]),
        (2019, "2019-06-24", [59001]),
    ]


async def test_on_this_day_links_each_year_to_its_day_page(ds):
    html = await html_of(ds, "/news/-/on-this-day", date="06-24")
    assert re.findall(r'<h2><a href="([^"]+)">([^<]+)</a>: (\d+) 篇', html) == [
        ("/news/-/day/2021-06-24", "2021-06-24", "3"),
        ("/news/-/day/2020-06-24", "2020-06-24", "1"),
        ("/news/-/day/2019-06-24", "2019-06-24", "1"),
    ]
    assert '<h1>當年今日 On this day: 6月24日 <span lang="en">June 24</span></h1>' in html
    assert '<p class="hkc-day-count">5 篇文章 5 articles in 3 years, newest year first.</p>' in html


async def test_on_this_day_gives_each_year_s_count_in_chinese_and_english(ds):
    html = await html_of(ds, "/news/-/on-this-day", date="06-24")
    assert '<h2><a href="/news/-/day/2021-06-24">2021-06-24</a>: 3 篇文章 3 articles</h2>' in html
    assert '<h2><a href="/news/-/day/2020-06-24">2020-06-24</a>: 1 篇文章 1 article</h2>' in html


async def test_a_day_page_title_gives_its_count_in_chinese_and_english(ds):
    html = await html_of(ds, "/news/-/day/2021-06-24")
    assert "<title>2021-06-24: 3 篇文章 3 articles</title>" in html


async def test_the_day_pages_label_their_json_in_chinese_and_english(ds):
    day = await html_of(ds, "/news/-/day/2021-06-24")
    assert '<p class="export-links">下載 This day as <a href="/news/-/day/2021-06-24.json">JSON</a>.</p>' in day
    on_this_day = await html_of(ds, "/news/-/on-this-day", date="06-24")
    assert (
        '<p class="export-links">下載 These articles as <a href="/news/-/on-this-day.json?date=06-24">JSON</a>.</p>'
        in on_this_day
    )


async def test_on_this_day_links_the_calendar_days_either_side(ds):
    html = await html_of(ds, "/news/-/on-this-day", date="03-01")
    assert '<a class="hkc-previous-day" href="/news/-/on-this-day?date=02-29">← 前一日 Previous day</a>' in html
    assert '<a class="hkc-next-day" href="/news/-/on-this-day?date=03-02">後一日 Next day →</a>' in html


async def test_on_this_day_takes_the_leap_day(ds):
    data = await get_json(ds, "/news/-/on-this-day.json", date="02-29")
    assert [(y["year"], ids(y["rows"])) for y in data["years"]] == [(2020, [59500])]


async def test_on_this_day_without_articles_says_so(ds):
    html = await html_of(ds, "/news/-/on-this-day", date="01-01")
    assert '<p class="hkc-day-none">沒有文章 No articles on 01-01 in any year.</p>' in html


@pytest.mark.parametrize("value", ["02-30", "13-01", "6-24", "abc", "2021-06-24", ""])
@pytest.mark.parametrize("extension", ["", ".json"])
async def test_a_bad_month_and_day_is_a_400_naming_date(ds, value, extension):
    response = await ds.client.get(f"/news/-/on-this-day{extension}", params={"date": value})
    assert response.status_code == 400
    message = f"date: '{value}' is not a month and day (MM-DD, as 06-24)"
    if extension:
        assert response.json() == {"ok": False, "error": message}
    else:
        assert message.replace("'", "&#39;") in response.text


async def test_on_this_day_without_a_date_is_today_in_utc(ds):
    before = dt.datetime.now(dt.timezone.utc).strftime("%m-%d")
    data = await get_json(ds, "/news/-/on-this-day.json")
    if dt.datetime.now(dt.timezone.utc).strftime("%m-%d") != before:
        pytest.skip("midnight passed during the request")
    assert data["date"] == before
    assert data == await get_json(ds, "/news/-/on-this-day.json", date=before)


@pytest.fixture
def served(days_db):
    """As hkcnews.serve serves it: immutable, so the page cache keeps pages."""
    return Datasette(immutables=[str(days_db)], **configured())


async def test_today_s_on_this_day_is_never_kept_by_the_page_cache(served):
    # Kept, the page would still be yesterday's list after midnight.
    first = await served.client.get("/news/-/on-this-day")
    again = await served.client.get("/news/-/on-this-day")
    assert first.status_code == again.status_code == 200
    assert "x-hkcnews-cache" not in again.headers


async def test_a_given_date_s_on_this_day_is_kept_by_the_page_cache(served):
    await served.client.get("/news/-/on-this-day", params={"date": "06-24"})
    again = await served.client.get("/news/-/on-this-day", params={"date": "06-24"})
    assert again.headers["x-hkcnews-cache"] == "hit"


async def test_a_day_page_links_to_its_date_in_every_year(ds):
    html = await html_of(ds, "/news/-/day/2021-06-24")
    assert (
        '<a class="hkc-on-this-day-link" href="/news/-/on-this-day?date=06-24">當年今日 On this day: 06-24 in every year</a>'
        in html
    )


async def test_home_page_links_to_on_this_day(ds):
    html = await html_of(ds, "/")
    assert '<a class="hkc-on-this-day-link" href="/news/-/on-this-day">當年今日 On this day</a>' in html


@pytest.mark.parametrize("path", ["/other/-/day/2021-06-24", "/other/-/on-this-day", "/missing/-/day/2021-06-24.json"])
async def test_days_only_for_our_databases(tmp_path, days_db, path):
    other = tmp_path / "other.db"
    other.write_bytes(b"")
    ds = Datasette([str(days_db), str(other)])
    assert (await ds.client.get(path)).status_code == 404


@pytest.mark.parametrize("path", ["/news/-/day/2021-06-24.json", "/news/-/on-this-day.json"])
async def test_days_need_permission_to_view_the_articles(days_db, path):
    ds = private_archive(days_db)
    assert (await ds.client.get(path)).status_code == 403
    cookies = {"ds_actor": ds.sign({"a": {"id": "editor"}}, "actor")}
    assert (await ds.client.get(path, cookies=cookies)).status_code == 200
