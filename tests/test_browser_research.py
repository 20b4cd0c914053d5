"""What someone studying the archive does in a real Chromium: read a
search's coverage over time, compare terms, see results on the first
screen, and download everything."""

import csv
import io
import sqlite3
from urllib.parse import parse_qs, urlsplit

import pytest

from .browser import screenshot


def article_count(db):
    with sqlite3.connect(db) as conn:
        return conn.execute("select count(*) from articles").fetchone()[0]


def listed_ids(page):
    return [int(text) for text in page.locator("table.rows-and-columns td.col-id").all_inner_texts()]


def test_search_chart_bar_opens_the_search_of_its_month(page):
    page.goto("/archive/articles?_search=台灣")
    bars = page.locator(".hkc-coverage .hkc-chart:visible rect.month")
    assert [bars.nth(i).get_attribute("data-month") for i in range(bars.count())] == ["2020-01", "2021-03"]
    screenshot(page, "search-chart.png", start="h3")
    bars.first.click()
    page.wait_for_url("**date__startswith=2020-01**")
    assert parse_qs(urlsplit(page.url).query) == {"_search": ["台灣"], "date__startswith": ["2020-01"]}
    assert sorted(listed_ids(page)) == [50001, 50002]
    assert page.watcher.errors == []


def test_share_choice_shows_the_chart_of_shares(page):
    page.goto("/archive/articles?tags__arraycontains=文化")
    visible = page.locator(".hkc-coverage .hkc-chart:visible rect.month")
    assert visible.first.get_attribute("data-share") is None
    page.click("text=Share of each month's articles")
    assert [visible.nth(i).get_attribute("data-share") for i in range(visible.count())] == ["0.500000", "1.000000"]
    assert visible.first.bounding_box()["height"] == pytest.approx(visible.nth(1).bounding_box()["height"] / 2, abs=1)


def test_trends_page_compares_three_terms_and_downloads_them(page):
    page.goto("/archive/-/trends")
    terms = page.locator("form.hkc-trends-form input[name=q]")
    for i, term in enumerate(["天氣", "台灣", "煙花"]):
        terms.nth(i).fill(term)
    # The form's submit navigates: wait for the new page before reading it.
    with page.expect_navigation():
        page.click("form.hkc-trends-form input[type=submit]")
    lines = page.locator("svg.trends:visible polyline.term")
    assert [lines.nth(i).get_attribute("data-term") for i in range(lines.count())] == ["天氣", "台灣", "煙花"]
    assert page.locator("svg.trends:visible g.legend").all_text_contents() == ["天氣", "台灣", "煙花"]
    screenshot(page, "trends.png")
    with page.expect_download() as download:
        page.click("p.export-links a:text-is('CSV')")
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text(encoding="utf-8"))))
    assert {(r["month"], r["煙花"]) for r in rows if r["煙花"] != "0"} == {("2021-10", "1")}
    assert {(r["month"], r["天氣"]) for r in rows if r["天氣"] != "0"} == {("2021-07", "2")}
    point = page.locator("svg.trends:visible circle.point[data-term='台灣'][data-month='2020-01']")
    point.click()
    page.wait_for_url("**/archive/articles?**")
    assert sorted(listed_ids(page)) == [50001, 50002]


@pytest.mark.parametrize("width, height, screens", [(1280, 900, 1), (390, 844, 2)])
def test_first_result_row_is_within_the_first_screens(browser, server, width, height, screens):
    context = browser.new_context(base_url=server.url, viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto("/archive/articles?_search=台灣")
    first_row = page.locator("table.rows-and-columns tbody tr").first.bounding_box()
    assert first_row["y"] + first_row["height"] <= screens * height
    if screens == 1:
        assert page.locator("input[name=_search]").first.bounding_box()["y"] >= 0
        headings = page.locator(".facet-info-name")
        assert headings.count() == 4
        assert all(headings.nth(i).bounding_box()["y"] < height for i in range(4))
    # The column descriptions: folded, one click away.
    assert not page.locator(".hkc-column-descriptions dd").first.is_visible()
    page.click(".hkc-column-descriptions summary")
    assert page.locator(".hkc-column-descriptions dt", has_text="capture_count").is_visible()
    context.close()


def test_streamed_csv_of_the_whole_table_has_every_article(page, archive_db):
    page.goto("/archive/articles?_size=2")
    page.check("input[name=_stream]")
    page.check("input[name=_dl]")
    with page.expect_download() as download:
        page.click("form[action$='.csv'] input[type=submit]")
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text(encoding="utf-8"))))
    # Pages of two rows: the stream has to follow several of them.
    assert article_count(archive_db) > 4
    assert len(rows) == len({r["id"] for r in rows}) == article_count(archive_db)


def test_database_download_link_gives_the_whole_file(page, archive_db):
    page.goto("/")
    link = page.locator("a.hkc-download")
    with page.expect_download() as download:
        link.click()
    path = download.value.path()
    assert path.stat().st_size == archive_db.stat().st_size
    assert article_count(path) == article_count(archive_db)


@pytest.mark.parametrize("path", ["/archive/-/trends?q=", "/archive/articles?_search="])
def test_a_hostile_search_runs_no_script_on_the_chart_pages(page, path):
    page.goto(path + "<script>window.__pwned=1;alert(1)</script><img src=x onerror=alert(2)>天氣")
    assert page.evaluate("window.__pwned") is None
    assert page.watcher.dialogs == [] and page.watcher.errors == []
