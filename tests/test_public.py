"""A public instance as a hostile visitor meets it: every request bounded in
memory and time, pages that no request header can poison, a worker that
dies replaced, compressed pages, a database download that resumes, whole
results as JSON lines, and downloads that wait their turn."""

import asyncio
import gc
import gzip
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import httpx
import pytest
from datasette.app import Datasette

from build_db import build
from hkcnews import config
from hkcnews.site.database_file import byte_range
from hkcnews.site.download_queue import RETRY_AFTER_SECONDS, RUNNING, WAITING
from hkcnews.site.facets import OwnCounts
from hkcnews.site.limits import MAX_RESULT_SIZE, MAX_VALUE_BYTES

from .helpers import CORPUS, EXTRA, SQL_CSV, article_md, datasette_for, held_download, seeds_with
from .server import Server

# Long articles, so that the values of a whole-table aggregate pass the
# length limit as they do on the whole archive (65 million characters):
# 30 bodies of 40,000 characters, near the longest real one (43,862).
rng = random.Random(13)
COMMON = "的一是不了人我在有他這中大來上國個到說們為子和你地出道也時年得就那要下以生會自著去之過家學對可她裡後小麼心多天而能好都然沒日於起還發成事只作當想看文無開手十用主行方又如前所本見經頭面公同三已老從動兩長"
LONG = {
    f"l/{70000 + i}.md": article_md(
        70000 + i, f"長文第{i}篇", "".join(rng.choice(COMMON) for _ in range(40_000)), date=f"2020-03-{i % 28 + 1:02d}"
    )
    for i in range(30)
}

HOSTILE_SQL = [
    "select zeroblob(900000000)",
    "select randomblob(900000000)",
    "select length(zeroblob(900000000))",
    "select replace(hex(zeroblob(400000)), '0', 'abcdefgh')",
    "select hex(randomblob(600000))",
    "select group_concat(body) from articles",
    "select json_group_array(body) from articles",
    "select zeroblob(5000000), zeroblob(5000000) from articles limit 1000",
    "select body || body || body || body || body || body || body || body || body || body from articles",
    "with recursive s(x) as (select 'x' union all select x || x from s) select x from s",
    "with recursive s(x, n) as (select 'x', 1 union all select x || x, n + 1 from s where n < 40) select max(length(x)) from s",
    # Each value under the length limit, a thousand rows over the result budget.
    "with recursive n(i) as (select 1 union all select i + 1 from n limit 1000) "
    "select zeroblob(900000) as a, zeroblob(900000) as b from n",
]


@pytest.fixture(scope="module")
def public_db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("public")
    db = folder / "news.db"
    build(seeds_with(folder, {**CORPUS, **LONG}), db)
    return db


@pytest.fixture(scope="module")
def public(public_db):
    server = Server(public_db).wait()
    yield server
    server.stop()


def fetch(url, headers=None, method="GET"):
    """(status, headers, body bytes) of one request, errors included."""
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def sql_url(server, form, sql):
    path = {"json": "/news.json", "csv": SQL_CSV, "html": "/news"}[form]
    return f"{server.url}{path}?{urllib.parse.urlencode({'sql': sql})}"


def worker_pids(server):
    """The server's worker processes (not multiprocessing's resource tracker)."""
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text()
    pids = []
    for pid in children.split():
        try:
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                pids.append(int(pid))
        except FileNotFoundError:
            pass
    return pids


def dead(pid):
    """Whether a process has exited (a zombie its parent has not reaped counts)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] in "ZX"
    except FileNotFoundError:
        return True


def peak_rss_mb(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


@pytest.mark.parametrize("form", ["json", "csv", "html"])
@pytest.mark.parametrize("sql", HOSTILE_SQL)
def test_a_query_too_large_is_refused_with_the_reason(public, sql, form):
    status, _, body = fetch(sql_url(public, form, sql))
    text = body.decode("utf-8", "replace")
    assert status == 400
    assert "string or blob too big" in text or "value too large" in text or "result too large" in text
    # The worker that refused it still answers.
    assert fetch(public.url + "/news/articles.json?_size=1")[0] == 200


def test_no_hostile_query_takes_a_worker_near_a_gigabyte(public):
    for sql in HOSTILE_SQL:
        for form in ("json", "csv", "html"):
            fetch(sql_url(public, form, sql))
    assert [pid for pid in worker_pids(public) if peak_rss_mb(pid) > 1024] == []


def test_the_longest_real_values_are_within_the_limits(public):
    # A page of the whole table, bodies and all, is far inside both bounds.
    status, _, body = fetch(public.url + "/news.json?sql=select+*+from+articles&_shape=array")
    rows = json.loads(body)
    assert status == 200 and len(rows) == 36
    assert max(len(r["body"]) for r in rows) * 3 < MAX_VALUE_BYTES
    assert sum(len(str(v)) for r in rows for v in r.values()) < MAX_RESULT_SIZE


def test_a_value_too_large_in_a_table_filter_is_a_400_not_a_500(public):
    status, _, body = fetch(public.url + "/news/articles.json?_where=length(zeroblob(900000000))>0")
    assert status == 400
    assert json.loads(body)["error"].startswith(
        "value too large: a value of this query would be longer than 1,000,000 bytes"
    )


def test_the_csv_of_a_failed_query_says_why(public):
    status, _, body = fetch(sql_url(public, "csv", "select zeroblob(900000000)"))
    # The reason, in SQLite's words (Datasette 1.0 raises it: the plugin's words around them).
    assert status == 400 and b"string or blob too big" in body and body.endswith(b"\n")


EVIL_HEADERS = [
    {"Host": "evil.example"},
    {"X-Forwarded-Host": "evil.example"},
    {"X-Forwarded-Proto": "gopher"},
    {"Forwarded": "host=evil.example;proto=gopher"},
]
PAGES = [
    "/news/articles?_search=%E5%A4%A9%E6%B0%A3",
    # Facets, with their toggles' absolute URLs (1.0 gives them when asked).
    "/news/articles.json?_search=%E5%A4%A9%E6%B0%A3&" + urllib.parse.urlencode(EXTRA),
    "/news/articles?tags__arraycontains=%E5%A4%A9%E6%B0%A3",
    "/news/articles",
]


@pytest.mark.parametrize("evil", EVIL_HEADERS, ids=lambda h: next(iter(h)))
def test_no_request_header_poisons_the_pages_others_get(public, evil):
    for path in PAGES:
        for _ in range(4):  # each of the two workers, whichever takes it
            fetch(public.url + path, evil)
    for path in PAGES:
        for _ in range(4):
            status, _, body = fetch(public.url + path)
            assert status == 200
            assert b"evil.example" not in body and b"gopher" not in body
            assert f"http://127.0.0.1:{public.port}/news/articles".encode() in body


def test_the_public_url_setting_names_the_pages_address(public_db):
    metadata = {**config.load(), "plugins": {"hkcnews": {"public_url": "https://archive.example.org"}}}
    ds = Datasette([str(public_db)], **config.datasette_kwargs(metadata))
    search = "/news/articles.json?_search=%E5%A4%A9%E6%B0%A3&" + urllib.parse.urlencode(EXTRA)
    response = asyncio.run(ds.client.get(search, headers={"host": "evil.example"}))
    assert "https://archive.example.org/news/articles.json?" in response.text
    assert "evil.example" not in response.text


def test_serve_takes_the_public_url(public_db):
    server = Server(public_db, options=["--public-url", "https://archive.example.org"]).wait()
    try:
        _, _, body = fetch(server.url + "/news/articles?_search=%E5%A4%A9%E6%B0%A3", {"Host": "evil.example"})
    finally:
        server.stop()
    assert b'href="https://archive.example.org/news/articles?_search=' in body and b"evil.example" not in body


def test_serve_refuses_a_public_url_that_is_not_one(public_db):
    result = subprocess.run(
        [sys.executable, "-m", "hkcnews.serve", str(public_db), "--public-url", "archive.example.org"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "--public-url: public_url 'archive.example.org': not an http:// or https:// address" in result.stderr


def test_a_killed_worker_is_replaced_while_requests_succeed(public_db, tmp_path):
    server = Server(public_db).wait()
    try:
        before = worker_pids(server)
        os.kill(before[0], signal.SIGKILL)
        # What the killed worker had accepted dies with it; what comes after
        # its death must all be answered.
        while before[0] in worker_pids(server) and not dead(before[0]):
            time.sleep(0.01)
        statuses, deadline = [], time.monotonic() + 60
        while time.monotonic() < deadline:
            statuses.append(fetch(server.url + "/news/articles.json?_size=1")[0])
            now = worker_pids(server)
            if len(now) == len(before) and before[0] not in now and len(statuses) >= 20:
                break
            time.sleep(0.05)
        after = worker_pids(server)
        assert len(after) == len(before) and before[0] not in after and before[1] in after
        assert set(statuses) == {200}
        # The new worker answers too: every worker takes requests in turn.
        assert {fetch(server.url + "/news/articles.json?_size=1")[0] for _ in range(20)} == {200}
        assert server.process.poll() is None
    finally:
        server.stop()
    log = server.log.read_text()
    assert f"hkcnews.serve: worker 1 (pid {before[0]}) was killed by SIGKILL" in log
    assert "starting another" in log


def test_the_facets_of_a_page_are_freed_with_it(public_db):
    ds = datasette_for(public_db)

    async def page():
        response = await ds.client.get("/news/articles?_search=%E5%A4%A9%E6%B0%A3&_facet=author")
        assert response.status_code == 200

    asyncio.run(page())
    gc.collect()
    assert [o for o in gc.get_objects() if isinstance(o, OwnCounts)] == []


def test_a_cached_page_keeps_no_request(public_db):
    from datasette.utils.asgi import Request

    ds = datasette_for(public_db)
    gc.collect()
    before = sum(isinstance(o, Request) for o in gc.get_objects())

    async def pages():
        for i in range(20):
            assert (await ds.client.get(f"/news/articles?_search=%E5%A4%A9%E6%B0%A3&_size={i + 1}")).status_code == 200

    asyncio.run(pages())
    gc.collect()
    assert sum(isinstance(o, Request) for o in gc.get_objects()) == before


def test_pages_are_gzipped_for_clients_that_accept_it(public):
    path = public.url + "/news/articles?_search=%E5%A4%A9%E6%B0%A3"
    status, headers, body = fetch(path, {"Accept-Encoding": "gzip"})
    _, plain_headers, plain = fetch(path)
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in headers["Vary"]
    assert "Content-Encoding" not in plain_headers
    assert len(body) < len(plain) / 3
    assert b"<title>news: articles" in gzip.decompress(body)


def test_a_streamed_csv_is_gzipped_whole(public):
    url = public.url + "/news/articles.csv?_search=%E7%9A%84"
    with httpx.stream("GET", url, headers={"Accept-Encoding": "gzip"}, timeout=60) as response:
        assert response.headers["content-encoding"] == "gzip"
        assert response.headers.get("transfer-encoding") == "chunked"
        text = b"".join(response.iter_bytes()).decode("utf-8")
    ids = [line.split(",")[0] for line in text.split("\r\n")[1:] if line[:5].isdigit()]
    assert ids == [str(row["id"]) for row in matches(public, "%E7%9A%84")]


def matches(server, search):
    """The rows of a search, as its table page's JSON gives them."""
    _, _, page = fetch(f"{server.url}/news/articles.json?_search={search}&_size=max&_shape=objects")
    return json.loads(page)["rows"]


def test_the_database_file_is_never_compressed(public, public_db):
    status, headers, body = fetch(public.url + "/news.db", {"Accept-Encoding": "gzip"})
    assert status == 200 and "Content-Encoding" not in headers
    assert int(headers["Content-Length"]) == public_db.stat().st_size == len(body)
    assert headers["Accept-Ranges"] == "bytes" and headers["ETag"] and headers["Last-Modified"]


def test_a_range_of_the_database_is_partial_content(public, public_db):
    status, headers, body = fetch(public.url + "/news.db", {"Range": "bytes=100-199"})
    assert status == 206
    assert headers["Content-Range"] == f"bytes 100-199/{public_db.stat().st_size}"
    assert body == public_db.read_bytes()[100:200]


def test_head_of_the_database_gives_its_length(public, public_db):
    status, headers, body = fetch(public.url + "/news.db", method="HEAD")
    assert (status, body, int(headers["Content-Length"])) == (200, b"", public_db.stat().st_size)


def test_curl_resumes_a_broken_database_download(public, public_db, tmp_path):
    target = tmp_path / "news.db"
    target.write_bytes(public_db.read_bytes()[:12345])  # what a broken download left
    subprocess.run(["curl", "--silent", "--fail", "-C", "-", "-o", str(target), public.url + "/news.db"], check=True)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == hashlib.sha256(public_db.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "header, size, expected",
    [
        (None, 1000, None),
        ("bytes=0-99", 1000, (0, 99)),
        ("bytes=900-", 1000, (900, 999)),
        ("bytes=-100", 1000, (900, 999)),
        ("bytes=-5000", 1000, (0, 999)),
        ("bytes=990-2000", 1000, (990, 999)),
        ("bytes=1000-", 1000, "unsatisfiable"),
        ("bytes=50-10", 1000, "unsatisfiable"),
        ("bytes=-0", 1000, "unsatisfiable"),
        ("bytes=0-1,5-9", 1000, None),
        ("items=0-9", 1000, None),
        ("bytes=-", 1000, None),
    ],
)
def test_byte_ranges(header, size, expected):
    assert byte_range(header, size) == expected


def test_an_unsatisfiable_range_is_416(public, public_db):
    status, headers, _ = fetch(public.url + "/news.db", {"Range": "bytes=99999999-"})
    assert (status, headers["Content-Range"]) == (416, f"bytes */{public_db.stat().st_size}")


def test_json_lines_hold_every_match_in_the_pages_order(public):
    status, headers, body = fetch(public.url + "/news/articles.jsonl?_search=%E7%9A%84&_size=2")
    lines = [json.loads(line) for line in body.decode("utf-8").splitlines()]
    assert status == 200 and headers["Content-Type"] == "application/x-ndjson; charset=utf-8"
    expected = matches(public, "%E7%9A%84")
    assert [line["id"] for line in lines] == [row["id"] for row in expected]
    assert len(lines) == 34 and lines[0] == expected[0]


def test_json_lines_of_a_table_filter(public):
    _, _, body = fetch(public.url + "/news/articles.jsonl?tags__arraycontains=%E5%A4%A9%E6%B0%A3")
    assert [json.loads(line)["id"] for line in body.decode("utf-8").splitlines()] == [50004, 50003]


def test_json_lines_of_a_bad_filter_is_a_400(public):
    status, _, body = fetch(public.url + "/news/articles.jsonl?_where=nonsense(")
    assert status == 400 and "error" in json.loads(body)


def test_the_table_page_links_its_json_lines(public):
    _, _, body = fetch(public.url + "/news/articles?_search=%E5%A4%A9%E6%B0%A3")
    assert b'href="/news/articles.jsonl?_search=%E5%A4%A9%E6%B0%A3' in body


def test_a_querys_json_lines_that_would_be_cut_is_refused(public):
    sql = "with recursive n(i) as (select 1 union all select i + 1 from n limit 5000) select i from n"
    status, _, body = fetch(public.url + "/news.jsonl?" + urllib.parse.urlencode({"sql": sql}))
    assert status == 400 and b"max_returned_rows" in body


@pytest.mark.parametrize("path", ["/news/articles", "/news/articles.json", "/news/articles.jsonl", "/"])
def test_pages_send_headers_for_a_public_site(public, path):
    _, headers, _ = fetch(public.url + path)
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "SAMEORIGIN"


@pytest.mark.parametrize("suffix, lines", [(".csv", 35), (".jsonl", 34)])
async def test_downloads_beyond_the_queue_get_429_with_retry_after(public_db, suffix, lines):
    ds = datasette_for(public_db)
    app = ds.app()
    release = asyncio.Event()
    started = []

    def download(n):
        # Each its own (id__gte=-n holds every row), so that none follows another.
        return held_download(app, started, release, f"/news/articles{suffix}", f"_search=%E7%9A%84&id__gte=-{n}")

    held = [asyncio.ensure_future(download(n)) for n in range(RUNNING + WAITING)]
    while len(started) < RUNNING:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)  # the waiting ones in their places
    refused = await download(RUNNING + WAITING)
    assert refused[0]["status"] == 429
    headers = {bytes(name).lower(): bytes(value) for name, value in refused[0]["headers"]}
    assert headers[b"retry-after"] == str(RETRY_AFTER_SECONDS).encode()
    assert b"Too many downloads at once" in refused[1]["body"]
    release.set()
    finished = await asyncio.gather(*held)
    bodies = [
        b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body") for messages in finished
    ]
    # Every match each time (and the CSV's header).
    assert [body.count(b"\r\n" if suffix == ".csv" else b"\n") for body in bodies] == [lines] * len(bodies)


def test_a_plain_datasette_serve_is_bounded_and_unpoisoned_too(public_db):
    # The limits, the address and the headers are the plugin's, so they hold
    # for `datasette serve news.db -m metadata.yml` (here with -i and the
    # default settings) as for python -m hkcnews.serve.
    server = Server(public_db, plain=["-i", str(public_db)]).wait()
    try:
        refused = fetch(sql_url(server, "json", "select group_concat(body) from articles"))
        fetch(server.url + PAGES[0], {"Host": "evil.example"})
        status, headers, body = fetch(server.url + PAGES[0])
    finally:
        server.stop()
    assert refused[0] == 400 and b"string or blob too big" in refused[2]
    assert status == 200 and b"evil.example" not in body
    assert headers["X-Content-Type-Options"] == "nosniff"
