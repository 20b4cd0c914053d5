"""Pages of an immutable archive are kept in memory and served again with
the same bytes; nothing else is."""

import pytest
from datasette.app import Datasette

import hkcnews.site.cache

from .helpers import configured, datasette_for

HIT = "x-hkcnews-cache"


@pytest.fixture
def served(corpus_db):
    """The archive as hkcnews.serve serves it: immutable."""
    return Datasette(immutables=[str(corpus_db)], **configured())


@pytest.mark.parametrize(
    "path",
    [
        "/news/articles?_search=台灣",
        "/news/articles.json?_facet=author",
        "/news/articles.csv",
        "/news/articles/39427",
        "/news/search?q=天氣",
    ],
)
async def test_a_page_asked_again_comes_from_memory_with_the_same_bytes(served, path):
    first = await served.client.get(path)
    again = await served.client.get(path)
    assert first.status_code == again.status_code == 200
    assert HIT not in first.headers and again.headers[HIT] == "hit"
    assert again.content == first.content
    assert again.headers["content-type"] == first.headers["content-type"]


async def test_a_different_query_string_is_a_different_page(served):
    await served.client.get("/news/articles?_search=台灣")
    other = await served.client.get("/news/articles?_search=天氣")
    assert HIT not in other.headers
    assert "天氣" in other.text


async def test_pages_of_a_database_that_can_change_are_never_kept(corpus_db):
    ds = datasette_for(corpus_db)  # datasette serve news.db: mutable
    await ds.client.get("/news/articles")
    assert HIT not in (await ds.client.get("/news/articles")).headers


async def test_requests_with_cookies_pass_through(served):
    await served.client.get("/news/articles")
    response = await served.client.get("/news/articles", cookies={"ds_actor": "x"})
    assert response.status_code == 200 and HIT not in response.headers


@pytest.mark.parametrize("path", ["/news/no_such_table", "/news/articles/1", "/news.json?sql=select+nonsense"])
async def test_errors_and_redirects_are_not_kept(served, path):
    first = await served.client.get(path)
    again = await served.client.get(path)
    assert first.status_code != 200 and again.status_code == first.status_code
    assert HIT not in again.headers


async def test_a_page_longer_than_the_limit_passes_through_whole(served, monkeypatch):
    monkeypatch.setattr(hkcnews.site.cache, "MAX_PAGE_BYTES", 1000)
    first = await served.client.get("/news/articles.csv?_stream=on&_size=max")
    again = await served.client.get("/news/articles.csv?_stream=on&_size=max")
    assert len(first.content) > 1000 and again.content == first.content
    assert HIT not in again.headers


async def test_the_least_recently_used_page_goes_first(served, monkeypatch):
    pages = ["/news/articles/39427", "/news/articles/50001", "/news/articles/50002"]
    # The pages' sizes as kept (gzipped), asked with a cookie so that none is kept yet.
    sizes = [int((await served.client.get(p, cookies={"x": "1"})).headers["content-length"]) for p in pages]
    # Room for any two of the pages, not for all three (a page's size varies
    # by a byte or two: it says how long its queries took).
    monkeypatch.setattr(hkcnews.site.cache, "MAX_BYTES", sum(sizes) - min(sizes) // 2)
    for page in pages:
        await served.client.get(page)
    assert [HIT in (await served.client.get(p)).headers for p in reversed(pages)] == [True, True, False]


async def test_the_cache_keeps_at_most_max_pages(served, monkeypatch):
    pages = ["/news/articles/39427", "/news/articles/50001", "/news/articles/50002"]
    monkeypatch.setattr(hkcnews.site.cache, "MAX_PAGES", 2)
    for page in pages:
        await served.client.get(page)
    assert [HIT in (await served.client.get(p)).headers for p in reversed(pages)] == [True, True, False]


async def test_a_gzipped_page_and_a_plain_one_are_kept_apart(served):
    path = "/news/articles?_search=台灣"
    await served.client.get(path, headers={"accept-encoding": "gzip"})
    plain = await served.client.get(path, headers={"accept-encoding": "identity"})
    again = await served.client.get(path, headers={"accept-encoding": "identity"})
    assert HIT not in plain.headers and "content-encoding" not in plain.headers
    assert HIT in again.headers and "content-encoding" not in again.headers
    gzipped = await served.client.get(path, headers={"accept-encoding": "gzip"})
    assert HIT in gzipped.headers and gzipped.headers["content-encoding"] == "gzip"
    assert "<title>news: articles" in gzipped.text


# A page of the archive whose code says it is not whole, as the archive's
# facets do when one of them timed out: the contract of do_not_keep.
NOT_WHOLE_PLUGIN = """
from datasette import hookimpl
from datasette.utils.asgi import Response
from hkcnews.site.cache import do_not_keep


async def page(request):
    if request.args.get("whole") != "1":
        do_not_keep(request)
    return Response.text("a page")


@hookimpl
def register_routes():
    return [(r"^/news/-/test-page$", page)]
"""


@pytest.mark.parametrize("whole, kept", [("1", True), ("0", False)])
async def test_a_page_marked_not_whole_is_served_but_not_kept(corpus_db, tmp_path, whole, kept):
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "not_whole.py").write_text(NOT_WHOLE_PLUGIN)
    ds = Datasette(immutables=[str(corpus_db)], plugins_dir=str(tmp_path / "plugins"), **configured())
    first = await ds.client.get("/news/-/test-page", params={"whole": whole})
    again = await ds.client.get("/news/-/test-page", params={"whole": whole})
    assert (first.status_code, first.text, again.text) == (200, "a page", "a page")
    assert (HIT in again.headers) is kept
