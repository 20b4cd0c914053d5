"""Every file is a capture: repeats of one article and failed captures are
reconciled into one row per article, every file keeps its row in captures,
and every number the archive shows counts articles."""

import json
import os
import re
import subprocess
import sys

import pytest

from bench.reconcile import MAKE_CORPUS, agreement
from build_db import build
from hkcnews.build.captures import Capture, clauses, containment, failed_reason, reconcile

from .helpers import (
    article_md,
    assert_same_as_a_full_build,
    datasette_for,
    edit,
    figure_html,
    rows,
    table_json,
    write_articles,
)

P1 = "立法會今日三讀通過修例，議員以大比數贊成。"
P2 = "政府發言人表示，新例將於下月生效，並會加強宣傳。"
P3 = "有團體批評諮詢期太短，市民未及表達意見。"
P4 = "法律界人士則指，條文的定義仍有不清楚之處，日後或引起爭議。"
P3_EDITED = "有團體批評諮詢期太短，市民未能表達意見。"  # 未及 → 未能
FAREWELL = "眾新聞告別 \u00a0 \u00a0感謝讀者"  # the closed site's page, with no-break spaces
STATEMENT = "眾新聞告別\u3000感謝讀者"  # the outlet's own last article, with an ideographic space
BEFORE, AFTER = "20210712063207", "20220123203808"  # captured before and after the closure


def failed_md(number, title):
    """A failed capture as the backup holds them: a title and nothing else."""
    original = f"https://www.hkcnews.com/article/{number}/x"
    return (
        f'---\ntitle: "{title}"\ndate: ""\nauthor: ""\n'
        f'url: "https://web.archive.org/web/20220601000000/{original}"\noriginal_url: "{original}"\n---\n\n'
    )


def pictures(captured):
    return figure_html("fireworks", "維港上空的煙花。何君健攝", captured=captured)


CAPTURES = {
    # The same text three times; the article is 61001, its text from the
    # earliest capture before the closure (61003).
    "a/61001.md": article_md(61001, "修例三讀通過", P1 + "\n\n" + P2, date="2021-06-10", captured=AFTER, slug="0"),
    "a/61002.md": article_md(61002, "修例三讀通過", P1 + "\n\n" + P2, date="2021-06-10", captured="20210801000000"),
    "a/61003.md": article_md(61003, "修例三讀通過", P1 + "\n\n" + P2, date="2021-06-10", captured=BEFORE),
    # Re-stamped image addresses.
    "b/61011.md": article_md(
        61011, "煙花照常舉行", P3 + "\n\n" + pictures("20210701000000"), date="2021-06-11", captured="20210701000000"
    ),
    "b/61012.md": article_md(
        61012, "煙花照常舉行", P3 + "\n\n" + pictures("20210702000000"), date="2021-06-11", captured="20210702000000"
    ),
    # Cut short at /article/N/0 after the closure.
    "c/61020.md": article_md(
        61020, "法院頒下判詞", "\n\n".join([P1, P2, P3, P4]), date="2021-10-28", captured="20211028000000"
    ),
    "c/61024.md": article_md(61024, "法院頒下判詞", "\n\n".join([P1, P2]), date="2021-10-28", captured=AFTER, slug="0"),
    # Under another article's slug.
    "d/61030.md": article_md(61030, "研究才有幸福", P4, date="2017-01-05", slug="happiness"),
    "d/61036.md": article_md(61036, "研究才有幸福", P4, date="2017-01-05", slug="donald-trump-jr"),
    # One title on two dates, and two texts under one title on one day.
    "e/61040.md": article_md(61040, "每日一圖", "今日的圖是海港。", date="2021-06-01"),
    "e/61041.md": article_md(61041, "每日一圖", "今日的圖是山頂。", date="2021-06-02"),
    "f/61050.md": article_md(61050, "新聞簡報", P1, date="2021-06-03"),
    "f/61051.md": article_md(61051, "新聞簡報", P4, date="2021-06-03"),
    # Failed captures, and the outlet's own farewell statement.
    "g/61060.md": failed_md(61060, FAREWELL),
    "g/61061.md": failed_md(61061, "Temporarily Offline"),
    "g/empty.md": '---\ntitle: ""\ndate: ""\nauthor: ""\ncategory: ""\ntags: []\nurl: ""\noriginal_url: ""\n---\n',
    "g/61070.md": article_md(
        61070, STATEMENT, "眾新聞明日停止運作，多謝讀者。", date="2022-01-02", author="公民記者有限公司"
    ),
    # The lowest number cut short: its id, the other capture's text.
    "h/61080.md": article_md(61080, "颱風襲港", P2, date="2021-06-12", tags=["天氣"]),
    "h/61083.md": article_md(61083, "颱風襲港", P2 + "\n\n" + P3, date="2021-06-12", tags=["天氣", "颱風"]),
    # An edited sentence: a repeat that says something new keeps its text.
    "i/61090.md": article_md(61090, "議會辯論", P1 + "\n\n" + P2 + "\n\n" + P3, date="2021-06-13"),
    "i/61091.md": article_md(61091, "議會辯論", P1 + "\n\n" + P2 + "\n\n" + P3_EDITED, date="2021-06-13"),
}
ARTICLE_IDS = [61001, 61011, 61020, 61030, 61040, 61041, 61050, 61051, 61070, 61080, 61090]


def chars(title, *texts):
    """What char_count counts: the headline and the text, without spaces."""
    return len(re.sub(r"\s", "", "#" + title + "".join(texts)))


def url(number, captured=BEFORE, slug="slug"):
    return f"https://web.archive.org/web/{captured}/https://www.hkcnews.com/article/{number}/{slug}"


@pytest.fixture(scope="module")
def captures_db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("captures")
    db = folder / "news.db"
    build(write_articles(folder / "seeds", CAPTURES), db)
    return db


def capture_rows(db, where="1"):
    return rows(
        db,
        "select id, article_id, status, reason, archived_at, source_path, char_count, similarity, body is not null as kept "
        f"from captures where {where} order by id",
    )


def test_one_row_per_article(captures_db):
    assert [r["id"] for r in rows(captures_db, "select id from articles order by id")] == ARTICLE_IDS


def test_every_file_has_its_capture_row(captures_db):
    assert len(rows(captures_db, "select id from captures")) == len(CAPTURES)


def test_same_text_three_times_is_one_article_with_the_earliest_capture_before_the_closure(captures_db):
    (article,) = rows(captures_db, "select * from articles where id = 61001")
    assert article["body"] == f"# 修例三讀通過\n\n{P1}\n\n{P2}"
    del article["body"]
    assert article == {
        "id": 61001,
        "title": "修例三讀通過",
        "date": "2021-06-10",
        "year": 2021,
        "author": "眾新聞記者",
        "category": "眾聞",
        "tags": "[]",
        "url": url(61003),
        "original_url": "https://www.hkcnews.com/article/61003/slug",
        "archived_at": "2021-07-12T06:32:07",
        "last_updated": None,
        "figure_count": 0,
        "char_count": chars("修例三讀通過", P1, P2),
        "capture_count": 3,
        "source_path": "a/61003.md",
    }
    n = chars("修例三讀通過", P1, P2)
    assert capture_rows(captures_db, "article_id = 61001") == [
        {
            "id": 61001,
            "article_id": 61001,
            "status": "article",
            "reason": None,
            "archived_at": "2022-01-23T20:38:08",
            "source_path": "a/61001.md",
            "char_count": n,
            "similarity": 1.0,
            "kept": 0,
        },
        {
            "id": 61002,
            "article_id": 61001,
            "status": "repeat",
            "reason": None,
            "archived_at": "2021-08-01T00:00:00",
            "source_path": "a/61002.md",
            "char_count": n,
            "similarity": 1.0,
            "kept": 0,
        },
        {
            "id": 61003,
            "article_id": 61001,
            "status": "repeat",
            "reason": None,
            "archived_at": "2021-07-12T06:32:07",
            "source_path": "a/61003.md",
            "char_count": n,
            "similarity": 1.0,
            "kept": 0,
        },
    ]


def test_restamped_image_addresses_are_a_repeat(captures_db):
    assert rows(captures_db, "select id, capture_count, figure_count, source_path from articles where id = 61011") == [
        {"id": 61011, "capture_count": 2, "figure_count": 1, "source_path": "b/61011.md"}
    ]
    assert [
        (r["id"], r["status"], r["similarity"], r["kept"]) for r in capture_rows(captures_db, "article_id = 61011")
    ] == [
        (61011, "article", 1.0, 0),
        (61012, "repeat", 1.0, 0),
    ]
    assert rows(captures_db, "select article_id, caption, credit from figures where article_id = 61011") == [
        {"article_id": 61011, "caption": "維港上空的煙花。", "credit": "何君健攝"}
    ]


def test_capture_cut_short_after_the_closure_is_a_repeat_and_the_full_text_is_kept(captures_db):
    (article,) = rows(captures_db, "select body, char_count, capture_count, source_path from articles where id = 61020")
    assert article == {
        "body": "# 法院頒下判詞\n\n" + "\n\n".join([P1, P2, P3, P4]),
        "char_count": chars("法院頒下判詞", P1, P2, P3, P4),
        "capture_count": 2,
        "source_path": "c/61020.md",
    }
    assert capture_rows(captures_db, "article_id = 61020")[1] == {
        "id": 61024,
        "article_id": 61020,
        "status": "repeat",
        "reason": None,
        "archived_at": "2022-01-23T20:38:08",
        "source_path": "c/61024.md",
        "char_count": chars("法院頒下判詞", P1, P2),
        "similarity": 1.0,
        "kept": 0,
    }


def test_capture_under_another_articles_slug_is_a_repeat(captures_db):
    assert [(r["id"], r["status"]) for r in capture_rows(captures_db, "article_id = 61030")] == [
        (61030, "article"),
        (61036, "repeat"),
    ]


@pytest.mark.parametrize("numbers", [(61040, 61041), (61050, 61051)], ids=["two dates", "two texts on one day"])
def test_one_title_is_two_articles_when_dates_or_texts_differ(captures_db, numbers):
    assert [
        (r["id"], r["article_id"], r["status"], r["similarity"]) for r in capture_rows(captures_db, f"id in {numbers}")
    ] == [(n, n, "article", 1.0) for n in numbers]


def test_failed_captures_have_no_article_and_say_why(captures_db):
    failed = capture_rows(captures_db, "status = 'failed'")
    empty_id = failed[-1]["id"]
    assert empty_id > 10**7  # no number in an empty capture: one from its path
    assert failed == [
        {
            "id": 61060,
            "article_id": None,
            "status": "failed",
            "reason": "farewell",
            "archived_at": "2022-06-01T00:00:00",
            "source_path": "g/61060.md",
            "char_count": 0,
            "similarity": None,
            "kept": 0,
        },
        {
            "id": 61061,
            "article_id": None,
            "status": "failed",
            "reason": "offline",
            "archived_at": "2022-06-01T00:00:00",
            "source_path": "g/61061.md",
            "char_count": 0,
            "similarity": None,
            "kept": 0,
        },
        {
            "id": empty_id,
            "article_id": None,
            "status": "failed",
            "reason": "empty",
            "archived_at": None,
            "source_path": "g/empty.md",
            "char_count": 0,
            "similarity": None,
            "kept": 0,
        },
    ]


def test_the_outlets_farewell_statement_is_an_article(captures_db):
    assert rows(captures_db, "select id, title, date, author, capture_count from articles where id = 61070") == [
        {"id": 61070, "title": STATEMENT, "date": "2022-01-02", "author": "公民記者有限公司", "capture_count": 1}
    ]


def test_lowest_number_names_the_article_and_the_most_complete_capture_gives_its_text(captures_db):
    (article,) = rows(captures_db, "select id, body, tags, source_path, capture_count from articles where id = 61080")
    assert article == {
        "id": 61080,
        "body": f"# 颱風襲港\n\n{P2}\n\n{P3}",
        "tags": '["天氣", "颱風"]',
        "source_path": "h/61083.md",
        "capture_count": 2,
    }
    assert [
        (r["id"], r["status"], r["similarity"], r["kept"]) for r in capture_rows(captures_db, "article_id = 61080")
    ] == [
        (61080, "article", 1.0, 0),
        (61083, "repeat", 1.0, 0),
    ]
    assert rows(captures_db, "select name, article_count from tags where name in ('天氣', '颱風') order by name") == [
        {"name": "天氣", "article_count": 1},
        {"name": "颱風", "article_count": 1},
    ]


def test_repeat_that_says_something_new_keeps_its_text(captures_db):
    assert rows(
        captures_db, "select id, status, similarity, body from captures where article_id = 61090 order by id"
    ) == [
        {"id": 61090, "status": "article", "similarity": 1.0, "body": None},
        {
            "id": 61091,
            "status": "repeat",
            # One of its clauses, 市民未能表達意見 (8 characters), is not in the chosen text.
            "similarity": round(1 - 8 / len(re.sub(r"[，。]", "", P1 + P2 + P3_EDITED)), 3),
            "body": f"# 議會辯論\n\n{P1}\n\n{P2}\n\n{P3_EDITED}",
        },
    ]


def test_summary_counts_files_articles_repeats_and_failed(captures_db, tmp_path):
    summary = build(captures_db.parent / "seeds", tmp_path / "news.db")
    assert {k: summary[k] for k in ("captures", "articles", "repeats", "failed")} == {
        "captures": 21,
        "articles": 11,
        "repeats": 7,
        "failed": 3,
    }


async def test_a_repeats_number_redirects_to_its_article(captures_db):
    ds = datasette_for(captures_db)
    for path, target in [
        ("/news/articles/61002", "/news/articles/61001"),
        ("/news/articles/61002.json", "/news/articles/61001.json"),
        ("/news/articles/61083?_shape=object", "/news/articles/61080?_shape=object"),
        ("/news/articles/61060", "/news/captures/61060"),
    ]:
        response = await ds.client.get(path)
        assert (response.status_code, response.headers["location"]) == (302, target), path
    assert (await ds.client.get("/news/articles/99999")).status_code == 404


async def test_article_page_lists_its_captures(captures_db):
    ds = datasette_for(captures_db)
    html = (await ds.client.get("/news/articles/61001")).text
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))
    assert (
        "The backup holds this article 3 times, under these numbers; the text above is from the most complete:" in text
    )
    assert (
        "61003, captured 2021-07-12T06:32:07 · web archive · the text shown "
        "61002, captured 2021-08-01T00:00:00 · web archive "
        "61001, captured 2022-01-23T20:38:08 · web archive"
    ) in text
    assert f'<a href="{url(61001, AFTER, "0")}" rel="nofollow noopener">web archive</a>' in html


async def test_table_facets_and_month_chart_count_articles(captures_db):
    ds = datasette_for(captures_db)
    data = await table_json(ds, "/news/articles.json", _facet="date")
    assert data["filtered_table_rows_count"] == 11
    dates = {r["value"]: r["count"] for r in data["facet_results"]["date"]["results"]}
    assert (dates["2021-06-10"], dates["2021-06-03"]) == (1, 2)
    author = {r["value"]: r["count"] for r in data["facet_results"]["author"]["results"]}
    assert author == {"眾新聞記者": 10, "公民記者有限公司": 1}
    html = (await ds.client.get("/")).text
    months = dict(re.findall(r'data-month="([\d-]+)" data-count="(\d+)"', html))
    assert months == {"2017-01": "1", "2021-06": "8", "2021-10": "1", "2022-01": "1"}


async def test_search_finds_each_article_once(captures_db):
    ds = datasette_for(captures_db)
    rows = (
        await ds.client.get("/news/articles.json", params={"_search": "三讀", "_shape": "array", "_col": "id"})
    ).json()
    assert sorted(r["id"] for r in rows) == [61001, 61020, 61050, 61090]
    canned = (await ds.client.get("/news/search.json", params={"q": "諮詢期", "_shape": "array"})).json()
    assert sorted(r["id"] for r in canned) == [61011, 61020, 61080, 61090]


# A rebuild decides a changed capture's group again, old and new, and gives
# what a full build of the same files gives.


@pytest.fixture
def rebuilt(tmp_path):
    """A folder of the captures above, built once; the test changes files."""
    folder = write_articles(tmp_path / "seeds", CAPTURES)
    db = tmp_path / "news.db"
    build(folder, db)
    return folder, db


def articles_of(db, *numbers):
    return [
        (r["id"], r["capture_count"], r["source_path"])
        for r in rows(
            db,
            f"select id, capture_count, source_path from articles where id in ({', '.join('?' * len(numbers))}) order by id",
            numbers,
        )
    ]


def test_rebuild_after_a_repeat_is_added(rebuilt, tmp_path):
    folder, db = rebuilt
    write_articles(
        folder, {"c/61026.md": article_md(61026, "法院頒下判詞", P1, date="2021-10-28", captured=AFTER, slug="0")}
    )
    assert build(folder, db)["read"] == 3  # the new file and its group
    assert articles_of(db, 61020) == [(61020, 3, "c/61020.md")]
    assert_same_as_a_full_build(db, folder, tmp_path)


def test_rebuild_after_the_lowest_number_is_deleted(rebuilt, tmp_path):
    folder, db = rebuilt
    (folder / "a/61001.md").unlink()
    assert build(folder, db)["read"] == 2
    assert articles_of(db, 61001, 61002) == [(61002, 2, "a/61003.md")]
    assert_same_as_a_full_build(db, folder, tmp_path)


def test_rebuild_after_a_repeat_becomes_the_most_complete(rebuilt, tmp_path):
    folder, db = rebuilt
    edit(folder / "c/61024.md", P2, P2 + "\n\n" + P3 + "\n\n" + P4 + "\n\n法官最後表示，案件押後再審。")
    assert build(folder, db)["read"] == 2
    assert articles_of(db, 61020) == [(61020, 2, "c/61024.md")]
    assert_same_as_a_full_build(db, folder, tmp_path)


def test_rebuild_after_a_capture_changes_title_moves_it_to_another_article(rebuilt, tmp_path):
    folder, db = rebuilt
    edit(folder / "a/61002.md", "修例三讀通過", "修例通過三讀")
    assert build(folder, db)["read"] == 3
    assert articles_of(db, 61001, 61002) == [(61001, 2, "a/61003.md"), (61002, 1, "a/61002.md")]
    assert_same_as_a_full_build(db, folder, tmp_path)


def test_rebuild_after_a_failed_capture_is_replaced_by_an_article(rebuilt, tmp_path):
    folder, db = rebuilt
    write_articles(folder, {"g/61061.md": article_md(61061, "研究才有幸福", P4, date="2017-01-05")})
    assert build(folder, db)["read"] == 3
    assert articles_of(db, 61030, 61061) == [(61030, 3, "d/61030.md")]
    assert rows(db, "select status, reason from captures where id = 61061") == [{"status": "repeat", "reason": None}]
    assert_same_as_a_full_build(db, folder, tmp_path)


# The rules on their own, without a build.


def capture(number, text, char_count=None, archived_at="2021-07-12T00:00:00"):
    return Capture(number, len(text) if char_count is None else char_count, archived_at, text)


def test_reconcile_keeps_apart_texts_that_share_less_than_half():
    found = reconcile([capture(2, P1 + P2), capture(1, P3 + P4), capture(3, P1 + P2 + P3)])
    assert [(a.id, a.chosen.id, [c.id for c, _ in a.captures]) for a in found] == [(1, 1, [1]), (2, 3, [3, 2])]


def test_reconcile_prefers_the_earliest_capture_before_the_closure_on_a_tie():
    found = reconcile(
        [
            capture(5, P1, archived_at="2022-01-23T00:00:00"),
            capture(6, P1, archived_at=None),
            capture(7, P1, archived_at="2021-08-01T00:00:00"),
            capture(8, P1, archived_at="2021-07-01T00:00:00"),
        ]
    )
    assert [(a.id, a.chosen.id) for a in found] == [(5, 8)]


@pytest.mark.parametrize(
    "part,whole,share",
    [
        (P1, P1 + P2, 1.0),
        (P1 + P2, P1, len(re.sub(r"[，。]", "", P1)) / len(re.sub(r"[，。]", "", P1 + P2))),
        ("", P1, 1.0),
        (P1, P4, 0.0),
        ("Protesters gathered in Central, police said.", "Police said protesters gathered in Central.", 0.0),
    ],
)
def test_containment_is_the_share_of_characters_in_shared_clauses(part, whole, share):
    assert containment(clauses(part), clauses(whole)) == pytest.approx(share)


HEADLINE_ONLY = "# 題\n"


def front(**columns):
    """A capture's front matter: nothing but its addresses, unless given."""
    nothing = {"title": None, "date": None, "author": None, "category": None, "tags": []}
    return {**nothing, "url": "u", "original_url": "o", **columns}


@pytest.mark.parametrize(
    "columns,body,reason",
    [
        (front(title=FAREWELL), HEADLINE_ONLY, "farewell"),
        (front(title="Temporarily Offline"), HEADLINE_ONLY, "offline"),
        (front(url=None, original_url=None), HEADLINE_ONLY, "empty"),
        (front(), HEADLINE_ONLY, "empty"),
        (front(title="某題", author="某人"), HEADLINE_ONLY, "no text"),
        (front(title=FAREWELL), "# 題\n\n正文。", None),
        (front(title=STATEMENT, date="2022-01-02"), HEADLINE_ONLY, None),
    ],
    ids=[
        "farewell page",
        "offline page",
        "empty",
        "empty but its address",
        "title alone",
        "farewell title with a text",
        "dated statement",
    ],
)
def test_a_capture_fails_by_what_it_holds(columns, body, reason):
    assert failed_reason(columns, body) == reason


# The generator of ../shared writes corpora shaped like the backup, repeats
# and failed captures at its rates, and says what each file is.
CORPUS_FILES = 20_000


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    if not MAKE_CORPUS.exists():
        message = f"needs {MAKE_CORPUS} (set HKCNEWS_SHARED to the shared folder)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("generated")
    truth = folder / "truth.json"
    subprocess.run(
        [
            sys.executable,
            str(MAKE_CORPUS),
            str(CORPUS_FILES),
            str(folder / "files"),
            "--seed",
            "9",
            "--truth",
            str(truth),
        ],
        check=True,
    )
    db = folder / "news.db"
    build(folder / "files", db)
    return db, json.loads(truth.read_text())


def test_generated_corpus_is_reconciled_as_its_truth_says(generated):
    db, truth = generated
    agree, disagree = agreement(db, truth)
    assert agree + len(disagree) == len(truth) == CORPUS_FILES
    assert agree / len(truth) >= 0.995, disagree[:20]


def test_generated_corpus_counts_each_article_once(generated):
    db, truth = generated
    distinct = sum(1 for what in truth.values() if what == "article")
    shown = sum(1 for what in truth.values() if what == "article" or isinstance(what, int))
    (counts,) = rows(
        db, "select (select count(*) from articles) as articles, (select sum(capture_count) from articles) as shown"
    )
    assert counts == {"articles": distinct, "shown": shown}
