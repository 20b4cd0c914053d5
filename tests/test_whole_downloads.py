"""A table's whole result as one download (hkcnews/site/whole_downloads.py):
every row the page's search and filters select, in its order, with the
search's snippet column, whatever the page limits; JSON lines that a
line-based reader keeps whole; one queue of downloads for every process of
a server."""

import asyncio
import csv
import io
import json

import pytest
from datasette.app import Datasette

from build_db import build
from hkcnews.config import DOWNLOADS_VARIABLE
from hkcnews.site.download_queue import RUNNING, WAITING

from .helpers import article_md, configured, held_download, seeds_with

COUNT = 30
# Every article holds 港; the even ones 政府 too.
FILES = {
    f"w/{70000 + n}.md": article_md(
        70000 + n,
        f"第{n}篇：香港{'政府' if n % 2 == 0 else '市民'}",
        f"香港第{n}段。" + ("政府發言人表示。" if n % 2 == 0 else "市民表示。") + "\n\n" + "內文。" * 50,
        date=f"2021-{1 + n % 12:02d}-{1 + n:02d}",
        tags=("政府",) if n % 2 == 0 else ("市民",),
        slug=str(n),
    )
    for n in range(COUNT)
}
# Line and paragraph separators and NEL, which JSON leaves raw in a string.
FILES["w/70100.md"] = article_md(70100, "分隔符", "第一行\u2028第二行\u2029第三行\x85第四行。香港。", slug="sep")


@pytest.fixture(scope="module")
def whole_db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("whole")
    build(seeds_with(folder, FILES), folder / "news.db")
    return folder / "news.db"


def datasette(db, **settings):
    return Datasette([str(db)], **configured(), settings={"allow_csv_stream": True, "max_csv_mb": 0, **settings})


async def page_ids(ds, **params):
    """The ids of every row of the table page, page after page, as Datasette lists them."""
    ids, next_token = [], None
    while True:
        page = {**params, "_shape": "objects", "_size": "5", **({"_next": next_token} if next_token else {})}
        data = (await ds.client.get("/news/articles.json", params=page)).json()
        ids += [row["id"] for row in data["rows"]]
        next_token = data.get("next")
        if not next_token:
            return ids


def csv_rows(text):
    return list(csv.DictReader(io.StringIO(text, newline="")))


@pytest.mark.parametrize(
    "params",
    [{"_search": "港"}, {"_search": "政府", "_sort_desc": "date"}, {"_search": "香港", "tags__arraycontains": "市民"}],
)
async def test_a_search_csv_holds_every_row_in_the_pages_order(whole_db, params):
    ds = datasette(whole_db)
    response = await ds.client.get("/news/articles.csv", params=params)
    assert response.status_code == 200
    assert [int(row["id"]) for row in csv_rows(response.text)] == await page_ids(ds, **params)


async def test_a_download_is_not_cut_by_the_page_row_limit(whole_db):
    every = await page_ids(datasette(whole_db), _search="港")
    ds = datasette(whole_db, max_returned_rows=3)
    csv_text = (await ds.client.get("/news/articles.csv", params={"_search": "港"})).text
    jsonl_text = (await ds.client.get("/news/articles.jsonl", params={"_search": "港"})).text
    assert len(every) > 3
    assert [int(row["id"]) for row in csv_rows(csv_text)] == every
    assert [json.loads(line)["id"] for line in jsonl_text.splitlines()] == every


async def test_a_search_download_has_the_snippet_column_last(whole_db):
    ds = datasette(whole_db)
    response = await ds.client.get("/news/articles.csv", params={"_search": "發言人", "_col": "title", "id": "70028"})
    rows = csv_rows(response.text)
    assert list(rows[0]) == ["id", "title", "snippet"]
    assert rows[0]["snippet"] == "香港第28段。政府<mark>發言人</mark>表示。 " + "內文。" * 48 + "…"


async def test_a_download_without_a_search_has_no_snippet_column(whole_db):
    ds = datasette(whole_db)
    lines = (
        await ds.client.get("/news/articles.jsonl", params={"_col": "title", "id__gte": "70028", "_sort": "id"})
    ).text
    assert [json.loads(line) for line in lines.splitlines()] == [
        {"id": 70028, "title": "第28篇：香港政府"},
        {"id": 70029, "title": "第29篇：香港市民"},
        {"id": 70100, "title": "分隔符"},
    ]


async def test_json_lines_keep_line_separators_inside_their_line(whole_db):
    ds = datasette(whole_db)
    text = (await ds.client.get("/news/articles.jsonl", params={"id": "70100", "_col": "body"})).text
    (line,) = text.splitlines()
    assert "\\u2028" in line and "\\u2029" in line and "\\u0085" in line
    assert json.loads(line)["body"] == "# 分隔符\n\n第一行\u2028第二行\u2029第三行\x85第四行。香港。"


async def test_a_gzipped_download_is_the_same_file(whole_db):
    ds = datasette(whole_db)
    plain = await ds.client.get("/news/articles.csv", params={"_search": "港"})
    zipped = await ds.client.get("/news/articles.csv", params={"_search": "港"}, headers={"accept-encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.text == plain.text  # as httpx decodes it


async def test_a_csv_asked_for_as_a_file_is_an_attachment(whole_db):
    ds = datasette(whole_db)
    response = await ds.client.get("/news/articles.csv", params={"_search": "港", "_dl": "1"})
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="articles.csv"'


async def test_a_bad_filter_of_a_json_lines_download_is_a_400(whole_db):
    ds = datasette(whole_db)
    response = await ds.client.get("/news/articles.jsonl", params={"_sort": "nonexistent"})
    assert response.status_code == 400
    assert "nonexistent" in response.json()["error"]


def body(messages):
    return b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")


def distinct(n):
    """The n-th of as many different downloads as the queue holds: each its own export."""
    return f"_search=港&id__lt={70100 - n}"


async def holding_every_turn(app, release):
    held, started = [], []
    for n in range(RUNNING + WAITING):
        held.append(asyncio.ensure_future(held_download(app, started, release, query=distinct(n))))
    while len(started) < RUNNING:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)  # the waiting ones in their places
    return held


async def test_the_queue_is_one_for_every_process_of_a_server(whole_db, tmp_path, monkeypatch):
    # python -m hkcnews.serve names one folder to all its worker processes;
    # two Datasettes given the same folder stand for two of them.
    monkeypatch.setenv(DOWNLOADS_VARIABLE, str(tmp_path))
    first, second = datasette(whole_db).app(), datasette(whole_db).app()
    release = asyncio.Event()
    held = await holding_every_turn(first, release)
    # Were the queues apart, this one would start, and wait for the release.
    refused = await asyncio.wait_for(held_download(second, [], release, query=distinct(RUNNING + WAITING)), 30)
    release.set()
    finished = await asyncio.gather(*held)
    assert refused[0]["status"] == 429
    assert b"this server runs 2 and queues 8 more" in refused[1]["body"]
    assert [messages[0]["status"] for messages in finished] == [200] * (RUNNING + WAITING)


async def test_a_download_asked_again_needs_no_turn(whole_db):
    ds = datasette(whole_db)
    first = await ds.client.get(
        "/news/articles.csv", params={"_search": "政府"}, headers={"accept-encoding": "identity"}
    )
    release = asyncio.Event()
    held = await holding_every_turn(ds.app(), release)
    read_on = asyncio.Event()
    read_on.set()
    again = await asyncio.wait_for(held_download(ds.app(), [], read_on, query="_search=%E6%94%BF%E5%BA%9C"), 30)
    release.set()
    await asyncio.gather(*held)
    assert again[0]["status"] == 200
    assert body(again) == first.content


async def test_readers_of_a_download_being_written_follow_it(whole_db):
    ds = datasette(whole_db)
    release, started = asyncio.Event(), []
    writer = asyncio.ensure_future(held_download(ds.app(), started, release))
    while not started:
        await asyncio.sleep(0.01)
    held = await holding_every_turn(ds.app(), release)
    # The queue is full, yet the same download is answered: it follows the first.
    read_on = asyncio.Event()
    read_on.set()
    follower = asyncio.ensure_future(held_download(ds.app(), [], read_on))
    await asyncio.sleep(0.5)
    release.set()
    written, followed = await asyncio.wait_for(asyncio.gather(writer, follower), 30)
    await asyncio.gather(*held)
    assert followed[0]["status"] == 200
    assert body(followed) == body(written)
    assert len(csv_rows(body(followed).decode())) == len(await page_ids(ds, _search="港"))
