"""The concordance in a real Chromium, at a desktop's width and a phone's:
the hits stand in one column, and a line opens its article at the hit."""

import pytest

from build_db import build

from .browser import OFF_MACHINE, Watcher, screenshot, stay_on_loopback
from .helpers import seeds_with
from .language import FILES, REPEATED
from .server import Server

WIDTHS = {"desktop": (1200, 900), "phone": (390, 844)}


@pytest.fixture(scope="module")
def language_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("language-browser")
    db = folder / "news.db"
    build(seeds_with(folder, FILES), db)
    server = Server(db).wait()
    yield server
    server.stop()


def new_page(browser, server, size):
    width, height = WIDTHS[size]
    context = browser.new_context(base_url=server.url, viewport={"width": width, "height": height})
    context.route(OFF_MACHINE, stay_on_loopback)
    page = context.new_page()
    page.watcher = Watcher(page)
    return page


@pytest.mark.parametrize("size", sorted(WIDTHS))
def test_the_hits_stand_in_one_column(browser, language_server, size):
    page = new_page(browser, language_server, size)
    page.goto("/news/-/concordance?q=國安法&width=20")
    hits = page.locator(".hkc-kwic a.h")
    assert hits.count() == 13
    lefts = {round(hits.nth(i).bounding_box()["x"]) for i in range(hits.count())}
    assert len(lefts) == 1, lefts
    # The whole line is on the screen: nothing wider than the window.
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTHS[size][0]
    assert page.locator(".hkc-count").inner_text().startswith("在 8 篇文章中找到 13 處 13 hits in 8 articles")
    screenshot(page, f"concordance-{size}.png", start="h1")
    assert page.watcher.errors == []
    page.context.close()


def test_a_line_opens_its_article_with_the_hit_marked(browser, language_server):
    page = new_page(browser, language_server, "desktop")
    page.goto("/news/-/concordance?q=國安法&tags__arraycontains=周年&width=5&sort=1R")
    # 1R puts the hit before "，有人反對" first: the third of the article's four.
    page.locator(".hkc-kwic a.h").first.click()
    page.wait_for_url(f"**/news/articles/{REPEATED}?**")
    mark = page.locator("mark#hkc-hit")
    assert mark.inner_text() == "國安法"
    # The mark is the one after 有人支持, not the article's first 國安法.
    before = page.evaluate("document.getElementById('hkc-hit').previousSibling.textContent")
    assert before.endswith("有人支持")
    assert page.watcher.errors == []
    page.context.close()
