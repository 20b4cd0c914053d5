"""Pages of an immutable archive carry an ETag tied to the build and a
Cache-Control a shared cache may honour, and a conditional GET that names
the ETag is answered 304 without the page being computed; nothing that
may differ by reader, stream, or change is validated."""

import sqlite3

import pytest
from datasette.app import Datasette

import hkcnews.site.cache
from build_db import build
from hkcnews import config
from hkcnews.site.validators import SHARED_MAX_AGE

from .helpers import METADATA, SEEDS, SQL_CSV, article_md, configured, datasette_for, seeds_with

PAGE = "/news/articles?_search=天氣"
HIT = "x-hkcnews-cache"


@pytest.fixture
def served(corpus_db):
    """The archive as hkcnews.serve serves it: immutable."""
    return Datasette(immutables=[str(corpus_db)], **configured())


def immutable(db, **kwargs):
    return Datasette(immutables=[str(db)], **{**configured(), **kwargs})


async def etag_of(ds, path=PAGE, **headers):
    response = await ds.client.get(path, headers=headers)
    assert response.status_code == 200
    return response.headers["etag"]


def built(folder, files=None):
    """A build of the seed (and ``files``) in a folder of its own, as news.db."""
    folder.mkdir()
    db = folder / "news.db"
    build(seeds_with(folder, files) if files else SEEDS, db)
    return db


async def test_an_archive_page_has_a_weak_etag_and_a_public_cache_control(served):
    response = await served.client.get(PAGE)
    assert response.status_code == 200
    # Weak: a page says how long its queries took, so its bytes differ from
    # one computation to the next.
    assert response.headers["etag"].startswith('W/"')
    assert response.headers["cache-control"] == f"public, max-age=5, s-maxage={SHARED_MAX_AGE}"
    assert "Accept-Encoding" in response.headers["vary"]


async def test_the_same_request_with_its_etag_is_answered_304_with_an_empty_body(served):
    tag = await etag_of(served)
    response = await served.client.get(PAGE, headers={"if-none-match": tag})
    assert (response.status_code, response.content) == (304, b"")
    assert response.headers["etag"] == tag


async def test_a_304_carries_the_200s_validator_headers_and_the_security_headers(served):
    page = await served.client.get(PAGE)
    response = await served.client.get(PAGE, headers={"if-none-match": page.headers["etag"]})
    assert response.status_code == 304
    for name in ("etag", "cache-control", "vary", "x-content-type-options", "content-security-policy"):
        assert response.headers[name] == page.headers[name], name


COUNTING_PLUGIN = """
from datasette import hookimpl
from datasette.utils.asgi import Response


async def page(datasette):
    datasette.test_pages_computed = getattr(datasette, "test_pages_computed", 0) + 1
    return Response.html("<p>a page of the archive</p>")


@hookimpl
def register_routes():
    return [(r"^/news/-/test-counted$", page)]
"""


async def test_a_304_is_answered_without_computing_the_page(corpus_db, tmp_path, monkeypatch):
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "validators_counted.py").write_text(COUNTING_PLUGIN)
    ds = immutable(corpus_db, plugins_dir=str(tmp_path / "plugins"))
    monkeypatch.setattr(hkcnews.site.cache, "MAX_PAGES", 0)  # the page cache keeps nothing: every 200 is computed
    tag = await etag_of(ds, "/news/-/test-counted")
    assert (await ds.client.get("/news/-/test-counted")).status_code == 200
    assert ds.test_pages_computed == 2
    response = await ds.client.get("/news/-/test-counted", headers={"if-none-match": tag})
    assert response.status_code == 304
    assert ds.test_pages_computed == 2


async def test_a_304_leaves_the_page_cache_as_it_was(served):
    # HEAD passes the page cache by and has the GET's tag: nothing is kept yet.
    head = await served.client.head(PAGE)
    assert head.status_code == 200
    assert (await served.client.get(PAGE, headers={"if-none-match": head.headers["etag"]})).status_code == 304
    assert HIT not in (await served.client.get(PAGE)).headers


async def test_head_with_the_etag_is_answered_304(served):
    tag = await etag_of(served)
    response = await served.client.head(PAGE, headers={"if-none-match": tag})
    assert response.status_code == 304 and response.headers["etag"] == tag


async def test_a_different_query_string_has_a_different_etag(served):
    tag = await etag_of(served)
    other = await etag_of(served, "/news/articles?_search=台灣")
    assert other != tag
    assert (await served.client.get("/news/articles?_search=台灣", headers={"if-none-match": tag})).status_code == 200


async def test_a_gzipped_page_and_a_plain_one_have_different_etags(served):
    gzipped = await served.client.get(PAGE, headers={"accept-encoding": "gzip"})
    plain = await served.client.get(PAGE, headers={"accept-encoding": "identity"})
    assert gzipped.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    assert gzipped.headers["etag"] != plain.headers["etag"]
    conditional = {"accept-encoding": "identity", "if-none-match": gzipped.headers["etag"]}
    assert (await served.client.get(PAGE, headers=conditional)).status_code == 200


async def test_a_different_build_gives_the_page_a_different_etag(tmp_path):
    before = immutable(built(tmp_path / "before"))
    extra = {"new/50070.md": article_md(50070, "天氣轉涼", "今日天氣轉涼。", date="2021-11-01")}
    after = immutable(built(tmp_path / "after", extra))
    tag = await etag_of(before)
    assert await etag_of(after) != tag


async def test_an_etag_of_another_build_is_not_answered_304(tmp_path):
    before = immutable(built(tmp_path / "before"))
    extra = {"new/50070.md": article_md(50070, "天氣轉涼", "今日天氣轉涼。", date="2021-11-01")}
    after = immutable(built(tmp_path / "after", extra))
    response = await after.client.get(PAGE, headers={"if-none-match": await etag_of(before)})
    assert response.status_code == 200 and "天氣轉涼" in response.text


async def test_the_same_articles_built_again_keep_their_etags(tmp_path):
    # A build is the same file for the same articles, and the tag is the file's.
    first, second = immutable(built(tmp_path / "first")), immutable(built(tmp_path / "second"))
    assert await etag_of(first) == await etag_of(second)


async def test_a_non_matching_if_none_match_gets_the_page(served):
    response = await served.client.get(PAGE, headers={"if-none-match": 'W/"0123456789abcdef", "other"'})
    assert response.status_code == 200 and "天氣" in response.text
    assert response.headers["etag"].startswith('W/"')


@pytest.mark.parametrize(
    "condition",
    [
        "{tag}",
        "{opaque}",  # a strong tag with the same opaque tag: a GET compares weakly
        '"elsewhere", {tag}, W/"older"',
        'W/"elsewhere", {opaque}',
    ],
)
async def test_if_none_match_lists_and_strong_forms_compare_weakly(served, condition):
    tag = await etag_of(served)
    header = condition.format(tag=tag, opaque=tag.removeprefix("W/"))
    assert (await served.client.get(PAGE, headers={"if-none-match": header})).status_code == 304


async def test_if_none_match_star_is_304_for_a_page_that_exists(served):
    response = await served.client.get(PAGE, headers={"if-none-match": "*"})
    assert (response.status_code, response.content) == (304, b"")
    assert response.headers["etag"] == await etag_of(served)


async def test_if_none_match_star_leaves_a_missing_page_404(served):
    response = await served.client.get("/news/no_such_table", headers={"if-none-match": "*"})
    assert response.status_code == 404 and "etag" not in response.headers


async def test_errors_get_no_validators(served):
    response = await served.client.get("/news/no_such_table")
    assert response.status_code == 404
    assert "etag" not in response.headers and "s-maxage" not in response.headers.get("cache-control", "")


@pytest.mark.parametrize("headers", [{"cookie": "ds_actor=x"}, {"cookie": "other=1"}, {"authorization": "Bearer x"}])
async def test_requests_with_a_cookie_or_credentials_get_no_validators(served, headers):
    tag = await etag_of(served)
    response = await served.client.get(PAGE, headers={**headers, "if-none-match": tag})
    assert response.status_code == 200 and "etag" not in response.headers
    assert "public" not in response.headers.get("cache-control", "")


async def test_a_database_that_can_change_gets_no_validators(corpus_db):
    ds = datasette_for(corpus_db)  # datasette serve news.db: mutable
    response = await ds.client.get(PAGE)
    assert response.status_code == 200 and "etag" not in response.headers
    assert response.headers["cache-control"] == "max-age=5"  # Datasette's own


async def test_a_database_the_build_did_not_make_gets_no_validators(tmp_path):
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("create table things (id integer primary key, name text)")
    conn.execute("insert into things (name) values ('a thing')")
    conn.commit()
    conn.close()
    ds = Datasette(immutables=[str(other)])
    response = await ds.client.get("/other/things")
    assert response.status_code == 200 and "etag" not in response.headers
    assert response.headers["cache-control"] == "max-age=5"  # Datasette's own
    home = await ds.client.get("/")
    assert home.status_code == 200 and "etag" not in home.headers


async def test_the_home_page_and_search_all_are_validated_by_the_builds_served(served):
    for path in ("/", "/-/search?q=天氣"):
        tag = await etag_of(served, path)
        assert (await served.client.get(path, headers={"if-none-match": tag})).status_code == 304


async def test_the_home_page_beside_another_database_is_not_validated(corpus_db, tmp_path):
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("create table things (id integer primary key)").connection.close()
    ds = Datasette(immutables=[str(corpus_db), str(other)], **configured())
    assert "etag" not in (await ds.client.get("/")).headers
    assert "etag" in (await ds.client.get(PAGE)).headers


@pytest.mark.parametrize("path", ["/news/articles.csv?_search=天氣", "/news/articles.jsonl", f"{SQL_CSV}?sql=select+1"])
async def test_downloads_get_no_validators(served, path):
    response = await served.client.get(path)
    assert response.status_code == 200 and "etag" not in response.headers


async def test_the_database_file_keeps_its_own_validators(served):
    response = await served.client.get("/news.db")
    assert response.status_code == 200 and not response.headers["etag"].startswith("W/")
    assert "s-maxage" not in response.headers.get("cache-control", "")


NOT_WHOLE_PLUGIN = """
from datasette import hookimpl
from datasette.utils.asgi import Response
from hkcnews.site.cache import do_not_keep


async def page(request):
    if request.args.get("whole") != "1":
        do_not_keep(request)
    return Response.html("<p>a page</p>", headers={"cache-control": "max-age=3600"})


@hookimpl
def register_routes():
    return [(r"^/news/-/test-not-whole$", page)]
"""


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_a_page_marked_not_whole_gets_no_validators_and_no_cache(corpus_db, tmp_path, method):
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "validators_not_whole.py").write_text(NOT_WHOLE_PLUGIN)
    ds = immutable(corpus_db, plugins_dir=str(tmp_path / "plugins"))
    whole = await ds.client.request(method, "/news/-/test-not-whole", params={"whole": "1"})
    not_whole = await ds.client.request(method, "/news/-/test-not-whole", params={"whole": "0"})
    assert whole.status_code == not_whole.status_code == 200
    assert "etag" in whole.headers
    assert "etag" not in not_whole.headers and not_whole.headers["cache-control"] == "no-cache"


async def test_browsers_keep_a_page_for_the_default_cache_ttl_or_the_urls_ttl(corpus_db):
    ds = immutable(corpus_db, settings={"default_cache_ttl": 3600})
    assert (await ds.client.get(PAGE)).headers["cache-control"] == f"public, max-age=3600, s-maxage={SHARED_MAX_AGE}"
    assert (await ds.client.get(PAGE + "&_ttl=60")).headers["cache-control"].startswith("public, max-age=60,")
    assert (await ds.client.get(PAGE + "&_ttl=0")).headers["cache-control"] == "public, no-cache"


async def test_a_visitors_host_header_does_not_change_the_etag(served):
    tag = await etag_of(served)
    assert await etag_of(served, host="evil.example") == tag


async def test_another_public_address_gives_another_etag(corpus_db, served):
    public = config.datasette_kwargs(config.with_public_url(METADATA, "https://archive.example.org"))
    elsewhere = Datasette(immutables=[str(corpus_db)], **public)
    assert await etag_of(elsewhere) != await etag_of(served)
