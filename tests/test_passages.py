"""Hits in context: each result of a search shows the passage around its
best hits (hkcnews/site/excerpts.py), on the table page, in its CSV, JSON
and JSON lines (a snippet column, only with a search), in the canned search
and on the search-all page."""

import csv
import io
import json
import re

import pytest

import hkcnews.site.excerpts
from build_db import build
from hkcnews import compat
from hkcnews.site.excerpts import PASSAGE_CHARS, article_passage, passage, passage_text

from .helpers import article_md, datasette_for, figure_html, html_of, seeds_with

FILLER = "本港今日天晴，市民外出活動。"  # 14 characters
MIDDLE, START, END, CAPTION, TITLE_ONLY, ENGLISH, MARKUP = range(70001, 70008)
FILES = {
    "p/70001.md": article_md(
        MIDDLE,
        "長篇報道",
        FILLER * 20 + "立法會今日討論國家安全條例的細節。" + FILLER * 20,
        date="2021-05-01",
    ),
    "p/70002.md": article_md(START, "開頭", "颱風今早襲港，" + FILLER * 20, date="2021-05-02"),
    "p/70003.md": article_md(END, "結尾", FILLER * 20 + "最後一句談颱風", date="2021-05-03"),
    "p/70004.md": article_md(
        CAPTION,
        "圖片",
        FILLER * 20 + "\n\n" + figure_html("vigil", "市民在維園悼念。何君健攝"),
        date="2021-05-04",
    ),
    "p/70005.md": article_md(TITLE_ONLY, "颶風來襲", FILLER * 20, date="2021-05-05"),
    "p/70006.md": article_md(
        ENGLISH,
        "English report",
        "The committee met in the morning and discussed the budget at length. " * 4
        + "Later, Secretary Blinken said the talks were useful. "
        + "Officials then left the building for lunch and more meetings. " * 4,
        date="2021-05-06",
    ),
    "p/70007.md": article_md(
        MARKUP, "標記", "**粗體**與<b>標籤</b>、[連結](https://example.com/x)，a < b 的颶風。", date="2021-05-07"
    ),
}


@pytest.fixture(scope="module")
def passages_db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("passages")
    db = folder / "news.db"
    build(seeds_with(folder, FILES), db)
    return db


@pytest.fixture
def pds(passages_db):
    return datasette_for(passages_db)


def visible(html):
    """The characters of a passage a reader sees, without its marks and ellipses."""
    return re.sub(r"</?mark>", "", html).replace("…", "").replace("&lt;", "<").replace("&amp;", "&")


# The passage itself.


def test_a_hit_in_the_middle_is_shown_in_its_sentence():
    text = "甲" * 300 + "立法會今日討論國家安全條例的細節。" + "乙" * 300
    html = passage(text, "國家安全")
    assert html.startswith("…") and html.endswith("…")
    assert "立法會今日討論<mark>國家安全</mark>條例的細節。" in html
    assert len(visible(html)) == PASSAGE_CHARS


def test_a_hit_at_the_start_starts_the_passage():
    html = passage("颱風今早襲港，" + "甲" * 300, "颱風")
    assert html.startswith("<mark>颱風</mark>今早襲港，")
    assert len(visible(html)) == PASSAGE_CHARS


def test_a_hit_at_the_end_ends_the_passage():
    html = passage("甲" * 300 + "最後一句談颱風", "颱風")
    assert html.endswith("最後一句談<mark>颱風</mark>")
    assert html.startswith("…")
    assert len(visible(html)) == PASSAGE_CHARS


def test_a_short_text_is_shown_whole():
    assert passage("颱風今早襲港。", "颱風") == "<mark>颱風</mark>今早襲港。"


def test_a_simplified_query_marks_the_traditional_characters():
    assert passage("立法會討論國家安全條例。", "国家安全") == "立法會討論<mark>國家安全</mark>條例。"


def test_full_width_letters_are_marked_as_the_words_they_fold_to():
    assert passage("新一波ＣＯＶＩＤ疫情。", "covid") == "新一波<mark>ＣＯＶＩＤ</mark>疫情。"


def test_the_passage_is_where_most_terms_occur_together():
    text = "颱風" + "甲" * 400 + "颱風與暴雨同時襲港" + "乙" * 400 + "暴雨"
    html = passage(text, "颱風 暴雨")
    assert "<mark>颱風</mark>與<mark>暴雨</mark>同時襲港" in html
    assert html.startswith("…")


def test_every_term_of_an_or_query_is_marked_but_not_a_negated_one():
    html = passage("警察到場，警方表示，市民圍觀。", "(警察 OR 警方) -市民")
    assert html == "<mark>警察</mark>到場，<mark>警方</mark>表示，市民圍觀。"


def test_both_terms_of_a_near_query_are_marked():
    assert passage("警察拘捕示威者。", "警察 NEAR/5 示威") == "<mark>警察</mark>拘捕<mark>示威</mark>者。"


def test_with_no_hit_in_the_text_the_passage_is_its_start():
    # A match in the title alone: the title is beside the passage already.
    html = passage("甲" * 300, "颶風")
    assert html == "甲" * PASSAGE_CHARS + "…"


def test_an_english_word_is_not_cut_at_either_end():
    text = "The committee met in the morning and discussed the budget. " * 4 + "Blinken said so. " + "More words. " * 20
    html = passage(text, "blinken")
    assert "<mark>Blinken</mark> said so." in html
    shown = html.strip("…")
    assert shown.split(" ")[0] in text.split(" ") and shown.split(" ")[-1] in text.split(" ")


def test_the_passage_is_escaped_html_with_only_marks():
    html = article_passage("颶風", "**粗體**與<b>標籤</b>、[連結](https://example.com/x)，a < b 的颶風。")
    assert html == "粗體與 標籤 、 連結 ，a &lt; b 的<mark>颶風</mark>。"


def test_a_hit_in_a_caption_is_shown_from_the_caption():
    html = article_passage("悼念", FILLER * 20, [("市民在維園悼念。", "何君健攝", "")])
    assert html.endswith("市民在維園<mark>悼念</mark>。 何君健攝")


# The table page.


def test_the_text_of_a_passage_is_kept_for_the_next_search_and_stays_the_same(monkeypatch):
    # passage_text is kept for the articles shown last (a broad search's
    # first page is the newest articles, whatever the word): the same text
    # for the same body and figures, another for other figures, and no more
    # than TEXTS_CHARS kept.
    monkeypatch.setattr(hkcnews.site.excerpts, "TEXTS_CHARS", 20_000)
    monkeypatch.setattr(hkcnews.site.excerpts, "_TEXTS", type(hkcnews.site.excerpts._TEXTS)())
    monkeypatch.setattr(hkcnews.site.excerpts, "_TEXTS_SIZE", [0])
    body = "## 標題\n\n**立法會**今日討論[條例](https://example.org)。"
    first = passage_text(body, [("市民在維園悼念。", "何君健攝", "")])
    assert first == "立法會今日討論 條例 。 市民在維園悼念。 何君健攝"
    assert passage_text(body, [["市民在維園悼念。", "何君健攝", ""]]) == first
    assert passage_text(body, []) == "立法會今日討論 條例 。"
    for n in range(200):
        passage_text(f"第{n}段。" + FILLER * 5, [])
    assert 0 < hkcnews.site.excerpts._TEXTS_SIZE[0] <= 20_000
    assert passage_text(body, [("市民在維園悼念。", "何君健攝", "")]) == first


async def test_the_table_page_shows_each_results_passage_after_its_title(pds):
    page = await html_of(pds, "/news/articles", _search="国家安全条例")
    cells = re.findall(r'<td class="col-snippet type-str"><div class="hkc-passage">(.*?)</div></td>', page, re.S)
    # 20 characters before the hit, 160 in all: 7 before it in its sentence.
    before, after = (FILLER * 20)[-13:] + "立法會今日討論", "的細節。" + FILLER * 20
    assert cells == ["…" + before + "<mark>國家安全條例</mark>" + after[: PASSAGE_CHARS - 26] + "…"]


async def test_the_table_page_shows_a_caption_hit(pds):
    page = await html_of(pds, "/news/articles", _search="悼念")
    (cell,) = re.findall(r'<td class="col-snippet type-str"><div class="hkc-passage">(.*?)</div></td>', page, re.S)
    assert cell.endswith("市民在維園<mark>悼念</mark>。 何君健攝")


async def test_a_table_page_without_a_search_has_no_snippet_column(pds):
    page = await html_of(pds, "/news/articles")
    assert 'data-column="snippet"' not in page


async def test_a_page_that_shows_the_body_shows_the_passage_there(pds):
    page = await html_of(pds, "/news/articles", _search="颱風", _col="body")
    assert 'data-column="snippet"' not in page
    cells = re.findall(r'<td class="col-body type-str"><div class="hkc-passage">(.*?)</div></td>', page, re.S)
    assert set(cells) == {
        "<mark>颱風</mark>今早襲港，" + (FILLER * 20)[: PASSAGE_CHARS - 7] + "…",
        "…" + (FILLER * 20)[-(PASSAGE_CHARS - 7) :] + "最後一句談<mark>颱風</mark>",
    }


# CSV, JSON and JSON lines.


async def test_the_csv_of_a_search_adds_the_snippet_and_keeps_the_body(pds):
    response = await pds.client.get("/news/articles.csv", params={"_search": "國家安全條例"})
    assert response.status_code == 200
    header, *rows = list(csv.reader(io.StringIO(response.text)))
    assert header[-2:] == ["source_path", "snippet"]
    (row,) = rows
    record = dict(zip(header, row, strict=True))
    assert record["id"] == str(MIDDLE)
    assert record["body"].startswith("# 長篇報道\n\n" + FILLER * 20 + "立法會今日討論國家安全條例的細節。")
    assert "立法會今日討論<mark>國家安全條例</mark>的細節。" in record["snippet"]


async def test_the_csv_without_a_search_has_no_snippet(pds):
    response = await pds.client.get("/news/articles.csv", params={"category": "眾聞", "_size": "max"})
    header = next(csv.reader(io.StringIO(response.text)))
    assert "snippet" not in header


async def test_every_row_of_a_streamed_csv_gets_its_own_passage(pds):
    # Long enough to arrive in several pieces: each record is rewritten whole.
    response = await pds.client.get("/news/articles.csv", params={"_search": "本港", "_stream": "on"})
    header, *rows = list(csv.reader(io.StringIO(response.text)))
    by_id = {int(r[0]): dict(zip(header, r, strict=True)) for r in rows}
    assert sorted(by_id) == [MIDDLE, START, END, CAPTION, TITLE_ONLY]
    for record in by_id.values():
        assert record["snippet"].count("<mark>本港</mark>") >= 5


@pytest.mark.parametrize("shape", ["objects", "array", "object"])
async def test_json_of_a_search_adds_the_snippet_in_every_shape(pds, shape):
    data = (await pds.client.get("/news/articles.json", params={"_search": "悼念", "_shape": shape})).json()
    rows = data["rows"] if shape == "objects" else data if shape == "array" else list(data.values())
    (row,) = rows
    assert row["id"] == CAPTION
    assert row["snippet"].endswith("市民在維園<mark>悼念</mark>。 何君健攝")
    assert row["body"].startswith("# 圖片")


async def test_the_default_json_of_a_search_adds_the_snippet(pds):
    data = (await pds.client.get("/news/articles.json", params={"_search": "悼念", "_extra": "columns"})).json()
    assert data["columns"][-1] == "snippet"
    (row,) = data["rows"]
    snippet = row["snippet"] if isinstance(row, dict) else row[-1]
    assert snippet.endswith("市民在維園<mark>悼念</mark>。 何君健攝")


async def test_json_without_a_search_has_no_snippet(pds):
    data = (await pds.client.get("/news/articles.json", params={"_shape": "array", "id": MIDDLE})).json()
    assert "snippet" not in data[0]


async def test_json_lines_of_a_search_carry_the_snippet(pds):
    response = await pds.client.get("/news/articles.jsonl", params={"_search": "颱風"})
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [(line["id"], line["snippet"]) for line in lines] == [
        (END, "…" + (FILLER * 20)[-(PASSAGE_CHARS - 7) :] + "最後一句談<mark>颱風</mark>"),
        (START, "<mark>颱風</mark>今早襲港，" + (FILLER * 20)[: PASSAGE_CHARS - 7] + "…"),
    ]


# The canned search and search-all.


async def test_the_canned_search_shows_the_passage_of_a_caption_hit(pds):
    rows = (await pds.client.get("/news/search.json", params={"q": "悼念", "_shape": "array"})).json()
    assert [r["id"] for r in rows] == [CAPTION]
    assert rows[0]["snippet"].endswith(FILLER + " 市民在維園<mark>悼念</mark>。 何君健攝")


async def test_search_all_reads_the_passage_from_the_tables_json(pds):
    # The page's script asks for this address (datasette-search-all).
    params = {"_shape": "objects", "_labels": "on", "_size": "5", "_search": "國家安全條例"}
    if compat.DATASETTE_1:
        params["_extra"] = "count"
    data = (await pds.client.get("/news/articles.json", params=params)).json()
    assert [row["id"] for row in data["rows"]] == [MIDDLE]
    assert "討論<mark>國家安全條例</mark>的細節" in data["rows"][0]["snippet"]


@pytest.mark.parametrize(
    "extension,expected",
    [("json", '"Cannot sort table by nonexistent"'), ("csv", "Cannot sort table by nonexistent")],
)
async def test_a_refused_search_download_is_passed_on_as_it_is(pds, extension, expected):
    response = await pds.client.get(f"/news/articles.{extension}", params={"_search": "颱風", "_sort": "nonexistent"})
    assert response.status_code == 400
    assert expected in response.text
