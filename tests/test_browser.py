"""What a reader does in a browser, in a real Chromium against `datasette
serve` on a loopback port: search, follow tags, download, read an article."""

import csv
import io
import json
import sqlite3
from urllib.parse import parse_qs, urlparse

import pytest

from .browser import screenshot

SEED_TITLE = "中美阿拉斯加會談首日激烈交鋒"


def listed_ids(page):
    return [int(text) for text in page.locator("table.rows-and-columns td.col-id").all_inner_texts()]


@pytest.mark.parametrize("query", ["香港", "崔天凯"])
def test_search_box_lists_the_seed_article(page, query):
    page.goto("/archive/articles")
    page.fill("input[name=_search]", query)
    with page.expect_navigation():
        page.press("input[name=_search]", "Enter")
    assert listed_ids(page) == [39427]
    assert SEED_TITLE in page.locator("td.col-title a").inner_text()
    if query == "崔天凯":
        screenshot(page, "search.png", start="h3")


def test_tag_in_the_facet_list_lists_only_its_articles(page):
    page.goto("/archive/articles")
    page.locator(".facet-info[data-column=tags] a", has_text="天氣").first.click()
    page.wait_for_load_state()
    assert sorted(listed_ids(page)) == [50003, 50004, 50066]
    assert "tags__arraycontains=" in page.url


def test_tag_on_an_article_page_lands_on_the_facet_list(page):
    page.goto("/archive/articles")
    page.locator(".facet-info[data-column=tags] a", has_text="天氣").first.click()
    page.wait_for_load_state()
    from_facet = page.url
    page.goto("/archive/articles/50004")
    page.locator(".hkc-tags a", has_text="天氣").click()
    page.wait_for_load_state()
    assert page.url == from_facet
    assert sorted(listed_ids(page)) == [50003, 50004, 50066]


def test_csv_download_of_a_search_has_full_rows(page):
    page.goto("/archive/articles?_search=天氣")
    page.check("input[name=_dl]")
    with page.expect_download() as download:
        page.click("form[action$='.csv'] input[type=submit]")
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text(encoding="utf-8"))))
    assert sorted(int(r["id"]) for r in rows) == [50003, 50004]
    # Every column, and the whole body, not what the table shows.
    (weather,) = [r for r in rows if r["id"] == "50003"]
    assert weather["body"] == "# 天氣報告\n\n香，港的天氣今日炎熱。維多利亞港海面平靜。"
    assert json.loads(weather["tags"]) == ["天氣"]


def test_json_download_of_a_search_has_full_rows(page):
    page.goto("/archive/articles?_search=天氣")
    link = page.locator("p.export-links a", has_text="json").first
    # Alt+click is the browser's "download linked file".
    with page.expect_download() as download:
        link.click(modifiers=["Alt"])
    data = json.loads(download.value.path().read_text(encoding="utf-8"))
    rows = data["rows"]
    assert sorted(r["id"] for r in rows) == [50003, 50004]
    assert all(r["body"] and r["source_path"] for r in rows)


def test_search_all_finds_articles_and_figures(page):
    page.goto("/-/search")
    page.fill("input[name=q]", "煙花")
    page.press("input[name=q]", "Enter")
    page.wait_for_selector("text=維港上空的煙花")
    text = page.inner_text("body")
    assert "煙花匯演" in text  # the article
    assert "維港上空的煙花" in text  # its figure's caption


def test_article_page_shows_body_and_figures(page):
    page.goto("/archive/articles/39427")
    assert SEED_TITLE in page.inner_text("h1")
    assert "中國駐美大使崔天凱亦有出席" in page.inner_text(".hkc-body")
    images = page.locator(".hkc-body figure img")
    assert images.count() == 3
    assert all(
        src.startswith("https://web.archive.org/web/") for src in (images.nth(i).get_attribute("src") for i in range(3))
    )
    assert page.locator(".hkc-body figcaption").all_inner_texts() == [
        "中美雙方代表在安克雷奇的會議室對坐。美聯社圖片",
        "楊潔篪（右）與王毅在會上發言。（資料圖片）",
    ]
    assert page.locator(".hkc-body a", has_text="官方網站").get_attribute("href") == (
        "https://web.archive.org/web/20210712063207/https://www.fmprc.gov.cn/web/wjbzhd/t1862154.shtml"
    )
    screenshot(page, "article.png")


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/archive/articles/50066",
        "/archive/articles",
        "/archive/articles?_search=惡意",
        "/archive/figures",
        "/archive/tags",
        "/archive/authors",
        "/archive/feed",
        "/archive/search?q=惡意",
        "/-/search?q=惡意",
    ],
)
def test_hostile_article_runs_no_script(page, path):
    page.goto(path)
    page.wait_for_load_state("networkidle")
    # Hover and click what a reader might, in case a handler survived.
    for selector in (".hkc-author", ".hkc-body a", "td.col-author a"):
        for element in page.locator(selector).all():
            element.hover()
    assert page.evaluate("window.__pwned") is None
    assert page.watcher.dialogs == []
    assert page.watcher.errors == []


def test_hostile_title_and_tags_show_as_text(page):
    page.goto("/archive/articles/50066")
    assert page.inner_text("h1") == "惡意標題<script>window.__pwned = 1; alert('title')</script>"
    assert page.locator(".hkc-tags a").all_inner_texts() == ["<script>alert('tag')</script>", "天氣"]
    assert page.locator(".hkc-body a", has_text="按我").get_attribute("href") is None


def test_canned_search_marks_the_match(page):
    page.goto("/archive/search?q=崔天凯")
    marks = page.locator("td.col-snippet mark").all_inner_texts()
    assert marks and set(marks) == {"崔天凱"}


def test_chart_has_one_bar_per_month(page, archive_db):
    with sqlite3.connect(archive_db) as conn:
        months = [m for (m,) in conn.execute("select distinct substr(date, 1, 7) from articles order by 1")]
    page.goto("/")
    bars = page.locator("svg.articles-per-month rect.month")
    assert [bars.nth(i).get_attribute("data-month") for i in range(bars.count())] == months
    assert bars.first.bounding_box()["height"] > 0
    assert page.watcher.errors == []


def test_search_results_show_the_passage_with_the_hit_marked(page):
    page.goto("/archive/articles?_search=炎熱")
    assert page.locator("th.col-snippet").inner_text().strip() == "snippet"
    assert page.locator("td.col-snippet").all_inner_texts() == ["香，港的天氣今日炎熱。維多利亞港海面平靜。"]
    assert page.locator("td.col-snippet mark").all_inner_texts() == ["炎熱"]


def test_search_all_shows_each_articles_passage_not_its_body(page):
    page.goto("/-/search?q=炎熱")
    page.wait_for_selector(".hkc-search-all-articles td.col-snippet mark")
    articles = page.locator(".hkc-search-all-articles")
    assert articles.locator("td.col-title").all_inner_texts() == ["天氣報告"]
    assert articles.locator("td.col-snippet mark").all_inner_texts() == ["炎熱"]
    assert "月費訂戶" not in articles.inner_text()  # the body's footer is not shown
    assert page.watcher.errors == []


def test_search_all_links_the_search_help(page):
    page.goto("/-/search")
    page.locator("a.hkc-search-help").click()
    page.wait_for_url("**/archive/-/search-help")
    assert page.locator("h1").inner_text() == "搜尋語法 Search help"


def test_the_search_help_is_beside_the_search_box_and_its_examples_run(page):
    page.goto("/archive/articles")
    # The script puts the link in Datasette's search row.
    page.locator(".search-row a.hkc-search-help").click()
    page.wait_for_url("**/archive/-/search-help")
    page.locator("table.hkc-search-help a", has_text="香港 台灣").click()
    page.wait_for_url("**/archive/articles?*")
    # (Datasette 1.0a41 leaves its search box empty; the address is the search.)
    assert parse_qs(urlparse(page.url).query)["_search"] == ["香港 台灣"]
    marks = set(page.locator("td.col-snippet mark").all_inner_texts())
    assert marks and marks <= {"香港", "台灣"}
