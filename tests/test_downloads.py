"""A CSV download of an archive holds every row, or fails where a person
and a script see it: a broken transfer, never a 200 that ends with an
error message in place of the rows it lost."""

import csv
import http.client
import io
import sqlite3
import urllib.request

import pytest
import sqlite_utils
from datasette.app import Datasette

from build_db import build
from hkcnews.serve import SETTINGS
from hkcnews.site.downloads import IncompleteDownload

from .helpers import SQL_CSV, article_md, configured, seeds_with
from .server import Server

LONG = 40


@pytest.fixture(scope="module")
def long_db(tmp_path_factory):
    """40 articles of about 60 KB each: a CSV of them all is over 2 MB."""
    folder = tmp_path_factory.mktemp("long")
    files = {
        f"l/{90000 + n}.md": article_md(90000 + n, f"長文第{n}篇", f"第{n}篇的內文。" * 6000, slug=str(n))
        for n in range(LONG)
    }
    build(seeds_with(folder, files), folder / "news.db")
    return folder / "news.db"


def article_ids(text):
    return sorted(int(row["id"]) for row in csv.DictReader(io.StringIO(text)) if int(row["id"]) >= 90000)


@pytest.mark.parametrize(
    "path, params",
    [
        ("/news/articles.csv", {"_stream": "on", "_size": "max"}),
        (SQL_CSV, {"sql": "select id, body from articles"}),
    ],
)
async def test_a_csv_over_the_size_limit_breaks_off(long_db, path, params):
    ds = Datasette([str(long_db)], **configured(), settings={"max_csv_mb": 1})
    with pytest.raises(IncompleteDownload, match="CSV contains more than 1048576 bytes"):
        await ds.client.get(path, params=params)


async def test_a_csv_within_the_limit_holds_every_row(long_db):
    ds = Datasette([str(long_db)], **configured(), settings={"max_csv_mb": 100})
    response = await ds.client.get("/news/articles.csv", params={"_stream": "on", "_size": "max"})
    assert response.status_code == 200
    assert article_ids(response.text) == list(range(90000, 90000 + LONG))


def test_served_archive_streams_the_whole_table(long_db):
    # hkcnews.serve sets no size limit on CSV.
    assert SETTINGS["max_csv_mb"] == "0"
    server = Server(long_db).wait()
    try:
        with urllib.request.urlopen(f"{server.url}/news/articles.csv?_stream=on&_size=max", timeout=60) as response:
            assert response.status == 200
            assert article_ids(response.read().decode("utf-8")) == list(range(90000, 90000 + LONG))
    finally:
        server.stop()


def test_under_a_plain_datasette_serve_a_cut_download_is_an_incomplete_transfer(long_db):
    server = Server(long_db, plain=["--setting", "max_csv_mb", "1"]).wait()
    try:
        with urllib.request.urlopen(f"{server.url}/news/articles.csv?_stream=on&_size=max", timeout=60) as response:
            assert response.status == 200
            with pytest.raises(http.client.IncompleteRead):
                response.read()
    finally:
        server.stop()


async def test_other_databases_keep_datasettes_own_csv(tmp_path):
    db = sqlite_utils.Database(tmp_path / "other.db")
    db["things"].insert_all({"id": i, "text": "x" * 50_000} for i in range(40))
    ds = Datasette([str(tmp_path / "other.db")], settings={"max_csv_mb": 1})
    response = await ds.client.get("/other/things.csv", params={"_stream": "on", "_size": "max"})
    assert response.status_code == 200
    assert response.text.endswith("CSV contains more than 1048576 bytes")


@pytest.mark.parametrize(
    "path, params",
    [
        (SQL_CSV, {"sql": "select id from articles where id >= 90000 order by id"}),
        ("/news/articles.csv", {"_size": "max"}),
    ],
)
async def test_complete_csv_of_a_query_or_a_table_holds_every_row(long_db, path, params):
    ds = Datasette([str(long_db)], **configured(), settings={"max_csv_mb": 100})
    response = await ds.client.get(path, params=params)
    assert response.status_code == 200
    assert article_ids(response.text) == list(range(90000, 90000 + LONG))


async def test_an_error_page_for_a_csv_url_is_left_alone(long_db):
    ds = Datasette([str(long_db)], **configured())
    response = await ds.client.get("/news/no_such_table.csv")
    assert response.status_code == 404


def test_sqlite_file_unchanged(long_db):
    # The download checks never write: the archive is still what the build made.
    assert sqlite3.connect(long_db).execute("select count(*) from articles where id >= 90000").fetchone() == (LONG,)


@pytest.mark.parametrize(
    "params", [{"_size": "max"}, {"_size": "max", "_labels": "on"}, {"_search": "內文", "_size": "max"}]
)
async def test_a_tables_csv_link_downloads_every_row_not_its_first_page(long_db, params):
    # Pages of 7 rows; Datasette's own CSV of this URL would hold the first 7.
    ds = Datasette([str(long_db)], **configured(), settings={"max_returned_rows": 7, "max_csv_mb": 100})
    response = await ds.client.get("/news/articles.csv", params=params)
    assert response.status_code == 200
    assert article_ids(response.text) == list(range(90000, 90000 + LONG))


async def test_a_csv_that_names_its_page_keeps_it(long_db):
    ds = Datasette([str(long_db)], **configured(), settings={"max_returned_rows": 7})
    first = await ds.client.get("/news/articles.csv", params={"_size": "5", "_sort": "id"})
    assert [int(r["id"]) for r in csv.DictReader(io.StringIO(first.text))] == [39427, 90000, 90001, 90002, 90003]
    page = await ds.client.get("/news/articles.json", params={"_size": "5", "_sort": "id"})
    following = await ds.client.get(
        "/news/articles.csv", params={"_size": "5", "_sort": "id", "_next": page.json()["next"]}
    )
    assert article_ids(following.text) == list(range(90004, 90009))


@pytest.mark.parametrize(
    "path, params",
    [
        (SQL_CSV, {"sql": "select id from articles"}),
        (SQL_CSV, {"sql": "select id from articles where id >= :low;", "low": "90000"}),
        ("/news/feed.csv", {}),  # a canned query of the 50 newest
    ],
)
async def test_a_query_csv_cut_at_max_returned_rows_is_refused(long_db, path, params):
    ds = Datasette([str(long_db)], **configured(), settings={"max_returned_rows": 7})
    response = await ds.client.get(path, params=params)
    assert response.status_code == 400
    assert response.text == (
        f"{path}: this query returns more than 7 rows, the most a query's CSV holds (max_returned_rows), "
        "so the CSV would lose the rest. Take it in parts with LIMIT and OFFSET, download a table's CSV "
        "(it holds every row), or download the database.\n"
    )


@pytest.mark.parametrize(
    "params, ids",
    [
        ({"sql": "select id from articles where id >= 90000 order by id limit 7"}, list(range(90000, 90007))),
        ({"sql": "select id from articles where id >= :low order by id", "low": "90034"}, list(range(90034, 90040))),
    ],
)
async def test_a_query_csv_of_all_its_rows_is_sent(long_db, params, ids):
    ds = Datasette([str(long_db)], **configured(), settings={"max_returned_rows": 7})
    response = await ds.client.get(SQL_CSV, params=params)
    assert response.status_code == 200
    assert article_ids(response.text) == ids
