"""Articles the tests write for themselves, and a Datasette over a build."""

import asyncio
import os
import shutil
import sqlite3
from pathlib import Path

from datasette.app import Datasette

from build_db import build
from hkcnews import compat, config

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
METADATA = config.load()


def configured():
    """metadata.yml as the installed Datasette reads it, for one Datasette:
    Datasette(..., **configured())."""
    return config.datasette_kwargs(METADATA)


# `make fuzz` runs the property tests with fresh seeds and ten times the
# examples (tests/conftest.py); CI runs the same examples every time.
FUZZ = os.environ.get("HYPOTHESIS_PROFILE") == "fuzz"
FUZZ_SCALE = 10 if FUZZ else 1

FOOTER = (
    "\n\n---\n\n\n請加入成為眾新聞的月費訂戶，長期支持我們的工作。所有訂戶都可以收到我們的「每周時事」通訊 。\n\n"
    "月費訂戶 [網址：hkcnews.com/aboutus/#subscribe](/web/20210712063207/https://www.hkcnews.com/aboutus/#subscribe)\n"
)


def article_md(
    number,
    title="",
    body="",
    date="2021-06-01",
    author="眾新聞記者",
    category="眾聞",
    tags=(),
    footer=True,
    captured="20210712063207",
    slug="slug",
):
    """An article file in the archive's format, written for the tests: a
    capture of /article/<number>/<slug> taken at ``captured``."""
    original = f"https://www.hkcnews.com/article/{number}/{slug}"
    lines = [
        "---",
        f'title: "{title}"',
        f'date: "{date}"',
        f'author: "{author}"',
        f'category: "{category}"',
    ]
    lines += ["tags:"] + [f'  - "{t}"' for t in tags] if tags else ["tags: []"]
    lines += [f'url: "https://web.archive.org/web/{captured}/{original}"', f'original_url: "{original}"', "---", ""]
    return "\n".join(lines) + f"\n# {title}\n\n{body}" + (FOOTER if footer else "\n")


def figure_html(name, caption=None, alt="", captured="20210712063207"):
    src = f"https://web.archive.org/web/{captured}im_/https://www.hkcnews.com/news_新聞/hk-discuss/2021/06/{name}.jpg"
    caption_html = f"\n<figcaption>{caption}</figcaption>" if caption is not None else ""
    return f'<figure>\n<img src="{src}" alt="{alt}">{caption_html}\n</figure>\n'


# A small corpus beside the seed, each article there for a search behaviour.
CORPUS = {
    "a/50001.md": article_md(
        50001,
        "臺灣大選投票日",
        "臺灣選民今日投票，結果今晚公布。",
        tags=["台灣", "選舉"],
        category="國際",
        date="2020-01-11",
    ),
    "a/50002.md": article_md(
        50002, "台湾新闻简报", "台湾的选举结果已经公布。", tags=["台灣"], category="國際", date="2020-01-12"
    ),
    "a/50003.md": article_md(
        50003, "天氣報告", "香，港的天氣今日炎熱。維多利亞港海面平靜。", tags=["天氣"], date="2021-07-02"
    ),
    "a/50004.md": article_md(
        50004,
        "Blinkenlights exhibition",
        "The Blinkenlights show opened. COVID-19 rules apply. 展覽今日開幕，天氣晴朗。",
        tags=["文化", "天氣"],
        category="眾聲",
        author="Staff Reporter",
        date="2021-07-15",
    ),
    "b/50005.md": article_md(
        50005,
        "煙花匯演",
        "晚上八時開始。\n\n" + figure_html("fireworks", "維港上空的煙花。何君健攝"),
        tags=["文化"],
        date="2021-10-01",
    ),
}


def write_articles(folder, files):
    for name, text in files.items():
        path = Path(folder) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return Path(folder)


def seeds_with(tmp_path, files, name="seeds"):
    """A copy of seeds/ with extra files, for a build of its own."""
    folder = tmp_path / name
    shutil.copytree(SEEDS, folder)
    return write_articles(folder, files)


def rows(db, sql, params=()):
    """The rows of a query as dicts."""
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def comparable(db):
    """Every table's rows without the ids that depend on build history."""
    conn = sqlite3.connect(db)
    try:
        return {
            "articles": conn.execute("select * from articles order by id").fetchall(),
            "figures": conn.execute(
                "select article_id, position, image_url, alt, caption, credit from figures order by 1, 2"
            ).fetchall(),
            "tags": conn.execute("select name, article_count from tags order by name").fetchall(),
            "article_tags": conn.execute(
                "select article_id, name from article_tags join tags on tags.id = tag_id order by 1, 2"
            ).fetchall(),
            "authors": conn.execute("select * from authors order by name").fetchall(),
            "captures": conn.execute("select * from captures order by id").fetchall(),
        }
    finally:
        conn.close()


def edit(path, old, new):
    path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))


def assert_same_as_a_full_build(db, folder, tmp_path):
    build(folder, tmp_path / "full.db")
    assert comparable(db) == comparable(tmp_path / "full.db")


async def get_json(ds, path, **params):
    response = await ds.client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


# Datasette 1.0 gives a table's facets, suggested facets and filtered count
# only when asked (?_extra=), its facets under "results", and its count as
# "count": table_json asks for them and gives them 0.65's names, so that a
# test reads both lines alike. EXTRA is what it adds to the query string.
EXTRA = {"_extra": "facet_results,suggested_facets,count,query"} if compat.DATASETTE_1 else {}
# Where an SQL query's CSV is (1.0 redirects the old address there).
SQL_CSV = "/news/-/query.csv" if compat.DATASETTE_1 else "/news.csv"
# The same for a query's SQL and parameters.
QUERY_EXTRA = {"_extra": "query"} if compat.DATASETTE_1 else {}


async def table_json(ds, path, **params):
    """A table's JSON as Datasette 0.65 gives it, on either line."""
    data = await get_json(ds, path, **params, **EXTRA)
    if compat.DATASETTE_1 and isinstance(data, dict):
        data["facet_results"] = data["facet_results"]["results"]
        data["filtered_table_rows_count"] = data["count"]
    return data


async def html_of(ds, path, **params):
    response = await ds.client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.text


def private_archive(db):
    """The archive with its database open only to the actor {"id": "editor"}."""
    news = METADATA["databases"]["news"]
    private = {**METADATA, "databases": {"news": {**news, "allow": {"id": "editor"}}}}
    return Datasette([str(db)], **config.datasette_kwargs(private))


def datasette_for(db):
    """The real Datasette app over a built database, as `datasette serve db -m metadata.yml`."""
    return Datasette([str(db)], **configured())


# An article whose every field tries to run a script in a reader's browser.
# Each attempt sets window.__pwned or opens a dialog; the browser tests check
# that none of them runs, and the page tests that the text survives as text.
HOSTILE_SCRIPT = "<script>window.__pwned = 1; alert('title')</script>"
HOSTILE = {
    "x/50066.md": article_md(
        50066,
        f"惡意標題{HOSTILE_SCRIPT}",
        "正文開始。<script>window.__pwned = 1; alert('body')</script>\n\n"
        '<img src="x" onerror="window.__pwned = 1; alert(\'img\')">\n\n'
        "[按我](javascript:window.__pwned=1) [archive link](/web/20210712063207/https://www.hkcnews.com/aboutus/)\n\n"
        '<a href="javascript:alert(1)" onclick="window.__pwned = 1">另一連結</a><div onmouseover="alert(1)">破損的 <b>HTML\n\n'
        '<figure>\n<img src="https://web.archive.org/web/2021im_/https://www.hkcnews.com/x.jpg" alt="x" onload="window.__pwned = 1">\n'
        "<figcaption>惡意圖說<svg onload=\"window.__pwned = 1\"></svg><script>alert('caption')</script>何君健攝</figcaption>\n</figure>\n",
        author="<b onmouseover='alert(1)'>壞作者</b>",
        tags=["<script>alert('tag')</script>", "天氣"],
        category="<i>眾聞</i>",
        date="2021-06-04",
    ),
}


# What a reader might type into a search box to break it: FTS5 syntax,
# SQL, control characters, huge input. fts_query must turn each into a
# valid MATCH expression, and every search page must answer it.
HOSTILE_QUERIES = [
    '"',
    '""',
    '"""',
    "*",
    "-",
    ":",
    "^",
    "(",
    ")",
    "((香港",
    "NEAR(",
    "NEAR(香港 台灣, 2)",
    "香港 OR",
    "AND",
    "NOT 香港",
    "title:香港",
    "{title body}: 香港",
    "\x00",
    "香港\x00台灣",
    "'; drop table articles; --",
    "a" * 10_000,
    "港 " * 3000,
    "\u3000",
    "🇭🇰",
    "%",
    "_",
    "\\",
    "\u200b",
    "\ufeff香港",
    "OR",
    "-香港",
    "{title}: 香港",
    "香港*",
    "\x1b[31m",
    "香" * 3000,
    "[[",
    "]]",
    "a'b",
]


def not_for_the_wheel(folder, names):
    """shutil.copytree's ignore for a copy of the checkout to build the package from."""
    # What setuptools would pick up or write into a source tree: hidden
    # folders, builds, databases; build/ only at the top (hkcnews/build/ is code).
    return [
        n
        for n in names
        if n.startswith(".")
        or n in {"dist", "test-output", "__pycache__"}
        or n.endswith((".db", ".egg-info"))
        or (Path(folder) == ROOT and n == "build")
    ]


def held_download(app, started, release, path="/news/articles.csv", query="_search=港"):
    """A whole download of ``app`` (the ASGI app of a Datasette) whose reader
    does not read on until ``release`` is set: it keeps its turn in the
    download queue. The status it starts with is added to ``started``;
    returns its ASGI messages."""

    async def download():
        messages = []

        async def send(message):
            messages.append(message)
            if message["type"] == "http.response.start":
                started.append(message["status"])
                if message["status"] == 200:
                    await release.wait()

        async def receive():
            await asyncio.Event().wait()

        scope = {
            "type": "http",
            "http_version": "1.1",
            "method": "GET",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "headers": [(b"host", b"localhost")],
            "scheme": "http",
        }
        await app(scope, receive, send)
        return messages

    return download()
