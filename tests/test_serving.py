"""A public instance as `python -m hkcnews.serve` runs it: every setting in
hkcnews/serve/__init__.py in force, and rebuilds that never break a page."""

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from build_db import build
from hkcnews import compat
from hkcnews.serve import SETTINGS, inspect_file
from hkcnews.site.validators import SHARED_MAX_AGE

from .helpers import CORPUS, ROOT, article_md, seeds_with, write_articles
from .server import Server, free_port, group_alive, signal_group


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("served")
    db = folder / "news.db"
    build(seeds_with(folder, CORPUS), db)
    server = Server(db).wait()
    yield server
    server.stop()


def get(server, path, **params):
    """(status, headers, body) of one GET, errors included."""
    url = server.url + path + ("?" + urllib.parse.urlencode(params) if params else "")
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.headers, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode("utf-8")


COUNT_FOREVER = "with recursive n(i) as (select 1 union all select i + 1 from n) select count(*) from n"


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_setting_is_in_force(served, name):
    status, _, body = get(served, "/-/settings.json")
    assert status == 200
    assert str(json.loads(body)[name]).lower() in {SETTINGS[name], {"on": "true", "off": "false"}.get(SETTINGS[name])}


def test_database_is_served_immutable(served):
    _, _, body = get(served, "/-/databases.json")
    listed = json.loads(body)
    # 1.0 puts 0.65's list in {"ok": true, "databases": [...]}.
    (news,) = listed["databases"] if compat.DATASETTE_1 else listed
    assert news["name"] == "news" and news["is_mutable"] is False


def test_arbitrary_sql_is_open_to_everyone(served):
    status, _, body = get(served, "/news.json", sql="select count(*) as n from articles", _shape="array")
    assert (status, json.loads(body)) == (200, [{"n": 6}])


def test_arbitrary_sql_stops_at_the_time_limit(served):
    status, _, body = get(served, "/news.json", sql=COUNT_FOREVER)
    assert status == 400
    assert "SQL query took too long" in json.loads(body)["error"]


def test_arbitrary_sql_returns_at_most_max_returned_rows(served):
    sql = "with recursive n(i) as (select 1 union all select i + 1 from n limit 5000) select i from n"
    status, _, body = get(served, "/news.json", sql=sql)
    data = json.loads(body)
    assert (status, len(data["rows"]), data["truncated"]) == (200, int(SETTINGS["max_returned_rows"]), True)


def test_writes_are_refused(served):
    status, _, _ = get(served, "/news.json", sql="delete from articles")
    assert status == 400
    assert get(served, "/news.json", sql="select count(*) from articles", _shape="array")[2] == '[{"count(*)": 6}]'


def test_pages_can_be_cached(served):
    _, headers, _ = get(served, "/news/articles")
    # By browsers for Datasette's default_cache_ttl, by a shared cache for SHARED_MAX_AGE.
    assert headers["Cache-Control"] == f"public, max-age={SETTINGS['default_cache_ttl']}, s-maxage={SHARED_MAX_AGE}"


def test_a_page_asked_again_comes_from_memory(served):
    path, params = "/news/articles", {"_search": "台灣", "_facet": "author"}
    _, first_headers, first = get(served, path, **params)
    # Two worker processes, each with its own cache: each computes the page
    # once at most, so at most one of these is computed.
    answers = [get(served, path, **params) for _ in range(6)]
    assert "X-Hkcnews-Cache" not in first_headers
    hits = [body for _, headers, body in answers if headers.get("X-Hkcnews-Cache") == "hit"]
    computed = {first} | {body for _, headers, body in answers if headers.get("X-Hkcnews-Cache") != "hit"}
    assert len(hits) >= 5
    # A kept page is the bytes its process computed (a page says how long its
    # queries took, so two computations may differ in that).
    assert set(hits) <= computed and len(computed) <= 2


def test_full_csv_streams(served):
    status, headers, body = get(served, "/news/articles.csv", _stream="on", _size="max")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert body.splitlines()[0].startswith("id,title,date,year,author,category,tags,")
    assert sorted(line.split(",")[0] for line in body.splitlines()[1:] if line[:5].isdigit()) == [
        "39427",
        "50001",
        "50002",
        "50003",
        "50004",
        "50005",
    ]


def test_robots_keep_crawlers_off_endless_pages(served):
    status, _, body = get(served, "/robots.txt")
    assert status == 200
    assert "Disallow: /*?\n" in body and "Disallow: /*.csv\n" in body


def test_rebuilding_while_serving_never_breaks_a_page(tmp_path):
    seeds = seeds_with(tmp_path, CORPUS)
    db = tmp_path / "news.db"
    build(seeds, db)
    server = Server(db).wait()
    failures, answered, done = [], [], threading.Event()

    def rebuild():
        # As a maintainer would: build_db.py in a process of its own, some
        # rebuilds incremental, some full.
        try:
            for i in range(8):
                write_articles(seeds, {"c/60000.md": article_md(60000, f"重建第{i}次", "每次重建都改寫這篇。")})
                command = [sys.executable, str(ROOT / "build_db.py"), "--seeds", str(seeds), "--db", str(db)]
                subprocess.run(command + (["--full"] if i % 3 == 0 else []), check=True, capture_output=True)
        finally:
            done.set()

    rebuilder = threading.Thread(target=rebuild)
    rebuilder.start()
    try:
        requests = [
            ("/news/articles", {"_search": "天氣"}),
            ("/news/articles/39427", {}),
            ("/news/articles.json", {}),
            ("/news/search.json", {"q": "天氣"}),
        ]
        while not done.is_set():
            for path, params in requests:
                status, _, body = get(server, path, **params)
                answered.append(status)
                if status != 200:
                    failures.append((path, status, body[:300]))
        rebuilder.join()
        assert failures == []
        assert len(answered) >= 40
        # A deployment picks the new file up by restarting: the last rebuild is then served.
        server.stop()
        server = Server(db).wait()
        status, _, body = get(server, "/news/articles/60000.json", _shape="array")
        assert json.loads(body)[0]["title"] == "重建第7次"
    finally:
        server.stop()


def serve_until_it_exits(db, port, timeout=120):
    """`python -m hkcnews.serve` expected to stop by itself: (exit status,
    stderr). Its process group is killed afterwards whatever happened, so a
    server that wrongly keeps running does not outlive the test."""
    process = subprocess.Popen(
        [sys.executable, "-m", "hkcnews.serve", str(db), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, stderr = process.communicate(timeout=timeout)
        return process.returncode, stderr
    finally:
        signal_group(process.pid, signal.SIGKILL)
        process.wait()


def test_stopping_the_server_stops_every_worker(tmp_path):
    db = tmp_path / "news.db"
    build(seeds_with(tmp_path, CORPUS), db)
    server = Server(db).wait()
    try:
        children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text()
        workers = [int(pid) for pid in children.split()]
    finally:
        server.stop()
    assert len(workers) >= 2
    assert not group_alive(server.process.pid)
    assert [pid for pid in workers if Path(f"/proc/{pid}").exists()] == []


def test_serve_refuses_a_file_that_is_not_an_archive(tmp_path):
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("create table t (x)")
    status, stderr = serve_until_it_exits(other, free_port())
    assert status == 2
    assert f"{other}: not an archive built by this version of build_db.py" in stderr


def test_serve_says_when_the_port_is_taken(served):
    status, stderr = serve_until_it_exits(served.db, served.port)
    assert status == 1
    assert f"cannot listen on 127.0.0.1:{served.port}" in stderr


def test_serve_stops_with_the_error_when_a_worker_cannot_start(tmp_path):
    db = tmp_path / "news.db"
    build(seeds_with(tmp_path, CORPUS), db)
    # Row counts that are not JSON: every worker fails as it loads the app.
    inspect_file(db).write_text("{not json")
    status, stderr = serve_until_it_exits(db, free_port())
    assert status == 1
    assert "json.decoder.JSONDecodeError" in stderr
    assert "could not start: it exited with status 1, its error above; stopped the others" in stderr
