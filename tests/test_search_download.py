"""The database as a reader downloads it stays searchable outside Datasette:
`python -m hkcnews.search`, and its SQL in any SQLite client."""

import asyncio
import json
import sqlite3
import subprocess
import sys

import pytest
from datasette.app import Datasette

from .helpers import ROOT, configured


@pytest.fixture(scope="module")
def downloaded(corpus_db, tmp_path_factory):
    """news.db as the served archive's download link gives it."""
    ds = Datasette(immutables=[str(corpus_db)], **configured())
    response = asyncio.run(ds.client.get("/news.db"))
    assert response.status_code == 200
    path = tmp_path_factory.mktemp("download") / "hkcnews.db"
    path.write_bytes(response.content)
    return path


def search(*args):
    return subprocess.run(
        [sys.executable, "-m", "hkcnews.search", *map(str, args)], capture_output=True, text=True, cwd=ROOT
    )


@pytest.mark.parametrize("query", ["台灣", "臺灣", "台湾"])
def test_downloaded_database_finds_either_script(downloaded, query):
    result = search(downloaded, query)
    assert result.returncode == 0, result.stderr
    # All three headlines hold it: newest first, as the canned search lists them.
    assert [row["id"] for row in json.loads(result.stdout)] == [39427, 50002, 50001]


def test_rows_are_what_a_reader_needs(downloaded):
    (row,) = json.loads(search(downloaded, "选民").stdout)
    assert row == {
        "id": 50001,
        "title": "臺灣大選投票日",
        "date": "2020-01-11",
        "author": "眾新聞記者",
        "category": "國際",
        "url": "https://web.archive.org/web/20210712063207/https://www.hkcnews.com/article/50001/slug",
    }


def test_figures_as_csv(downloaded):
    result = search(downloaded, "美聯社", "--table", "figures", "--csv")
    assert result.stdout.splitlines()[:2] == [
        "article_id,position,caption,credit,image_url",
        "39427,1,中美雙方代表在安克雷奇的會議室對坐。,美聯社圖片,"
        "https://web.archive.org/web/20210712063207im_/https://www.hkcnews.com/news_新聞/hk-discuss/2021/03/"
        "中美會談-阿拉斯加-20210319081500_a1b2_large.jpg",
    ]


def test_the_printed_sql_runs_in_any_sqlite_client(downloaded):
    sql = search(downloaded, "台湾", "--sql").stdout
    assert "where articles_fts match '\"台湾\"'" in sql
    # Plain sqlite3: none of the plugin's SQL functions.
    assert [row[0] for row in sqlite3.connect(downloaded).execute(sql)] == [39427, 50002, 50001]


def test_a_phrase_does_not_match_across_punctuation(downloaded):
    assert json.loads(search(downloaded, "香港台灣").stdout) == []


@pytest.mark.parametrize(
    "args, message",
    [
        (["other.db", "台灣"], "other.db: not an archive built by this version of build_db.py"),
        (["{db}", "，"], "'，' has no letters or digits to search for"),
        (["{db}", "台灣", "--limit", "0"], "--limit 0: must be 1 or more"),
    ],
)
def test_bad_input_is_named(downloaded, tmp_path, args, message):
    sqlite3.connect(tmp_path / "other.db").execute("create table t (x)")
    args = [a.format(db=downloaded) for a in args]
    result = subprocess.run(
        [sys.executable, "-m", "hkcnews.search", *args], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 2
    assert message in result.stderr
