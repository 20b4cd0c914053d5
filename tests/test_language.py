"""The language of coverage: the concordance, collocates and keywords pages
(hkcnews/site/concordance.py, collocates.py, keywords.py) and what the
build stores for them (hkcnews/build/language.py)."""

import csv
import io
import json
import re
import sqlite3

import pytest

from hkcnews.terms import fold

from .helpers import get_json, html_of, private_archive
from .language import ELECTION, MARKUP, REPEATED, SIMPLIFIED, language_datasette


@pytest.fixture
def ds(language_db):
    return language_datasette(language_db)


async def jsonl(ds, path, **params):
    response = await ds.client.get(path, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson; charset=utf-8"
    return [json.loads(line) for line in response.text.splitlines()]


async def lines_of(ds, **params):
    return [
        (r["article_id"], r["left"], r["hit"], r["right"], r["offset"])
        for r in await jsonl(ds, "/news/-/concordance.jsonl", **params)
    ]


# The build


def test_the_build_stores_each_articles_text_folded_as_the_pages_recompute_it(language_db):
    with sqlite3.connect(language_db) as conn:
        stored = conn.execute("select folded from article_texts where article_id = ?", [REPEATED]).fetchone()[0]
    assert stored == "国安法一周年 市民谈国安法。有人支持国安法,有人反对国安法。"


def test_the_build_counts_the_documents_of_each_ngram_in_five_or_more(language_db):
    asked = ("投票站", "投票", "候选人", "违反国安", "市民", "拉票")
    with sqlite3.connect(language_db) as conn:
        rows = dict(conn.execute(f"select ngram, documents from ngrams where ngram in {asked}"))
        texts = [t for (t,) in conn.execute("select folded from article_texts")]
    assert {n: sum(n in t for t in texts) for n in asked} == {**rows, "市民": 2, "拉票": 1}
    assert rows == {"投票站": 5, "投票": 8, "候选人": 5, "违反国安": 5}


# The concordance


async def test_a_term_several_times_in_one_article_is_a_line_each_with_its_context(ds):
    lines = await lines_of(ds, q="國安法", tags__arraycontains="周年", width=5)
    assert lines == [
        (REPEATED, "", "國安法", "一周年 市", 0),
        (REPEATED, "年 市民談", "國安法", "。有人支持", 10),
        (REPEATED, "。有人支持", "國安法", "，有人反對", 18),
        (REPEATED, "，有人反對", "國安法", "。", 26),
    ]


async def test_hits_beside_markup_in_a_link_and_in_a_caption_show_only_the_text(ds):
    # The text: "遊行現場 國安法 下首次遊行。 國安法 全文。 示威者手持標語反對國安法"
    lines = await lines_of(ds, q="國安法", tags__arraycontains="遊行", width=6)
    assert lines == [
        (MARKUP, "遊行現場 ", "國安法", " 下首次遊行", 5),
        (MARKUP, "首次遊行。 ", "國安法", " 全文。 示", 16),
        (MARKUP, "手持標語反對", "國安法", "", 33),
    ]


async def test_a_simplified_query_finds_traditional_text_and_shows_it_as_written(ds):
    simplified = await lines_of(ds, q="国安法", tags__arraycontains="周年", width=5)
    traditional = await lines_of(ds, q="國安法", tags__arraycontains="周年", width=5)
    assert simplified == traditional
    assert {hit for _, _, hit, _, _ in simplified} == {"國安法"}


async def test_a_traditional_query_finds_simplified_text(ds):
    lines = await lines_of(ds, q="國安法", tags__arraycontains="简体", width=5)
    assert lines == [(SIMPLIFIED, "文章 简体", "国安法", "文章。", 7)]


async def test_the_head_counts_hits_and_articles(ds):
    html = await html_of(ds, "/news/-/concordance", q="國安法")
    # 4 + 3 + 1 + one in each of the five election articles.
    assert "<strong>13 hits in 8 articles</strong>" in html


@pytest.mark.parametrize(
    "sort, offsets",
    [
        ("date", [0, 10, 18, 26]),
        # 1L: the character left of the hit, then outward: "" < 对 < 持 < 谈.
        ("1L", [0, 26, 18, 10]),
        # 1R: "," (the full-width comma folded) < 。 (then nothing) < 。有 < 一
        ("1R", [18, 26, 10, 0]),
        # 2R: from the second character right: "" < 周 < 有人反 < 有人支
        ("2R", [26, 0, 18, 10]),
        # 2L: "" < 反 < 支 < 民
        ("2L", [0, 26, 18, 10]),
    ],
)
async def test_each_sort_order(ds, sort, offsets):
    lines = await lines_of(ds, q="國安法", tags__arraycontains="周年", width=5, sort=sort)
    assert [offset for *_, offset in lines] == offsets


async def test_date_order_is_newest_article_first(ds):
    lines = await lines_of(ds, q="國安法", width=5)
    dates = [r["date"] for r in await jsonl(ds, "/news/-/concordance.jsonl", q="國安法", width=5)]
    assert dates == sorted(dates, reverse=True)
    assert lines[0][0] == ELECTION[-1]


async def test_random_order_is_the_same_for_the_same_seed(ds):
    first = await lines_of(ds, q="國安法", sort="random", seed=7)
    again = await lines_of(ds, q="國安法", sort="random", seed=7)
    other = await lines_of(ds, q="國安法", sort="random", seed=8)
    assert first == again
    assert sorted(first) == sorted(other) and first != other


async def test_beyond_the_sample_size_the_lines_are_a_seeded_sample(language_db):
    ds = language_datasette(language_db, concordance_max_hits=5)
    everything = await lines_of(language_datasette(language_db), q="國安法")
    sample = await lines_of(ds, q="國安法", seed=1)
    assert len(sample) == 5 and set(sample) < set(everything)
    assert sample == await lines_of(ds, q="國安法", seed=1)
    assert sample != await lines_of(ds, q="國安法", seed=2)
    html = await html_of(ds, "/news/-/concordance", q="國安法", seed=1)
    assert "<strong>13 hits in 8 articles</strong>" in html
    assert "The lines are a random sample of 5 hits (seed 1), sorted." in html


async def test_the_csv_download_has_every_line_in_the_pages_order(ds):
    response = await ds.client.get("/news/-/concordance.csv", params={"q": "國安法", "width": 5, "sort": "1L"})
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == ["article_id", "title", "date", "author", "url", "left", "hit", "right", "offset"]
    assert len(rows) == 13
    assert [(int(r["article_id"]), r["left"], r["hit"], r["right"], int(r["offset"])) for r in rows] == await lines_of(
        ds, q="國安法", width=5, sort="1L"
    )
    assert rows[0]["url"].startswith("https://web.archive.org/web/")


async def test_a_page_shows_100_lines_and_links_the_next_and_the_previous(ds):
    first = await html_of(ds, "/news/-/concordance", q="測試詞")
    assert "<strong>120 hits in 1 article</strong>" in first
    assert first.count('class="h"') == 100 and "Page 1 of 2" in first
    assert (
        '<a href="/news/-/concordance?q=%E6%B8%AC%E8%A9%A6%E8%A9%9E&amp;page=2&amp;width=20&amp;sort=date">下一頁 Next →</a>'
        in first
    )
    assert "Previous" not in first
    second = await html_of(ds, "/news/-/concordance", q="測試詞", page=2)
    assert second.count('class="h"') == 20 and "Page 2 of 2" in second
    assert (
        '<a href="/news/-/concordance?q=%E6%B8%AC%E8%A9%A6%E8%A9%9E&amp;page=1&amp;width=20&amp;sort=date">← 上一頁 Previous</a>'
        in second
    )
    assert "Next" not in second


async def test_a_page_holds_its_lines_and_the_download_every_line(ds):
    lines = await lines_of(ds, q="測試詞")
    assert [offset for *_, offset in lines] == [3 + 4 * i for i in range(120)]


@pytest.mark.parametrize(
    "params, message",
    [
        ({"q": "國安法", "width": "4"}, "width: 4 is not between 5 and 80"),
        ({"q": "國安法", "width": "abc"}, "width: 'abc' is not a whole number"),
        ({"q": "國安法", "sort": "3L"}, "sort: '3L' is not one of date, 1L, 2L, 1R, 2R, random"),
        ({"q": "國安法", "year": "twenty"}, "year: 'twenty' is not a year"),
        ({"q": "國安法", "date__gte": "2021-13"}, "date__gte: '2021-13' is not a date (YYYY-MM-DD)"),
        ({"q": "，"}, "q: '，' has no letters or digits to search for"),
        ({}, "q: give a search, as ?q=國安法"),
    ],
)
async def test_bad_parameters_are_a_400_that_names_them(ds, params, message):
    response = await ds.client.get("/news/-/concordance.csv", params=params)
    assert response.status_code == 400
    assert response.text == message + "\n"


async def test_a_line_links_to_the_article_scrolled_to_the_hit(ds):
    html = await html_of(ds, "/news/-/concordance", q="國安法", tags__arraycontains="周年", width=5)
    link = re.search(r'<a class="h" href="([^"]+)">國安法</a>', html).group(1)
    assert link == f"/news/articles/{REPEATED}?hit=%E5%9C%8B%E5%AE%89%E6%B3%95&amp;before=#hkc-hit"


async def test_the_concordance_links_collocates_keywords_and_downloads(ds):
    html = await html_of(ds, "/news/-/concordance", q="國安法", year="2021")
    for link in (
        "/news/-/collocates?q=%E5%9C%8B%E5%AE%89%E6%B3%95&amp;year=2021",
        "/news/-/keywords?q=%E5%9C%8B%E5%AE%89%E6%B3%95&amp;year=2021",
        "/news/-/concordance.csv?q=%E5%9C%8B%E5%AE%89%E6%B3%95&amp;year=2021&amp;width=20&amp;sort=date",
        "/news/-/concordance.jsonl?q=%E5%9C%8B%E5%AE%89%E6%B3%95&amp;year=2021&amp;width=20&amp;sort=date",
    ):
        assert f'href="{link}"' in html


async def test_a_private_archives_concordance_is_not_shown(language_db):
    response = await private_archive(language_db).client.get("/news/-/concordance?q=國安法")
    assert response.status_code == 403


# Collocates


async def collocate_rows(ds, **params):
    response = await ds.client.get("/news/-/collocates.csv", params=params)
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.text)))


async def test_collocates_are_counted_from_the_concordances_own_lines(ds):
    rows = await collocate_rows(ds, q="國安法", window=10)
    assert rows, "no collocates"
    lines = await lines_of(ds, q="國安法", width=10)
    for row in rows:
        near = fold(row["collocate"])
        assert int(row["hits"]) == sum(near in fold(left) or near in fold(right) for _, left, _, right, _ in lines)


async def test_collocates_csv_columns_and_a_fragment_is_not_listed_beside_its_whole(ds):
    rows = await collocate_rows(ds, q="國安法")
    assert list(rows[0]) == ["collocate", "hits", "archive_documents", "logdice", "log_likelihood"]
    listed = {fold(r["collocate"]) for r in rows}
    # 违反 (beside five hits) is listed; 违 and 反 alone are not n-grams,
    # and no part of the query (国安, 安法) is a collocate.
    assert "违反" in listed
    assert not listed & {"国安", "安法", "国安法"}
    by = {fold(r["collocate"]): r for r in rows}
    assert by["违反"]["hits"] == "5"
    # Shown as the articles write it, though counted folded.
    assert by["违反"]["collocate"] == "違反"


async def test_the_fragment_rule():
    from hkcnews.site.collocates import without_fragments

    counts = {"国安法": 10, "国安": 11, "安法": 20, "法": 1}
    assert without_fragments(["国安", "国安法", "安法"], counts) == ["国安法", "安法"]


# Keywords


async def keyword_rows(ds, **params):
    response = await ds.client.get("/news/-/keywords.csv", params=params)
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.text)))


async def test_keywords_document_counts_agree_with_a_recount(ds, language_db):
    rows = await keyword_rows(ds, tags__arraycontains="選舉")
    assert list(rows[0]) == ["keyword", "documents", "archive_documents", "simple_maths", "log_likelihood"]
    with sqlite3.connect(language_db) as conn:
        texts = dict(conn.execute("select article_id, folded from article_texts"))
    for row in rows:
        keyword = fold(row["keyword"])
        assert int(row["documents"]) == sum(keyword in texts[n] for n in ELECTION)
        assert int(row["archive_documents"]) == sum(keyword in t for t in texts.values())


async def test_keywords_of_a_tag_and_the_fragment_rule(ds):
    rows = {r["keyword"]: r for r in await keyword_rows(ds, tags__arraycontains="選舉")}
    assert rows["投票站"]["documents"] == "5" and rows["投票站"]["archive_documents"] == "5"
    # 投票 is in 投票站 in every article of the set: a fragment.
    assert "投票" not in rows and "票站" not in rows
    # As written: traditional characters, though counted folded.
    assert "候選人" in rows


async def test_keywords_against_a_reference_set(ds):
    rows = await keyword_rows(ds, tags__arraycontains="選舉", ref_tags__arraycontains="其他")
    by = {r["keyword"]: r for r in rows}
    # 投票 is in all three of the reference's articles too.
    assert by["投票站"]["archive_documents"] == "0"
    assert "天氣" not in by


async def test_keywords_of_a_sample_say_so(language_db):
    ds = language_datasette(language_db, keywords_max_articles=3)
    html = await html_of(ds, "/news/-/keywords", tags__arraycontains="選舉")
    assert "<strong>5 articles</strong>" in html
    assert "a random sample of 3 articles" in html


async def test_keywords_need_a_search_or_a_filter(ds):
    response = await ds.client.get("/news/-/keywords.csv")
    assert response.status_code == 400
    assert response.text == "give a search (q) or a filter, as ?tags__arraycontains=國安法\n"


async def test_other_databases_have_no_language_pages(tmp_path):
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("create table t (x)").connection.commit()
    from datasette.app import Datasette

    response = await Datasette([str(other)]).client.get("/other/-/concordance?q=x")
    assert response.status_code == 404


async def test_the_json_of_the_search_matches_the_concordance_articles(ds):
    data = await get_json(ds, "/news/articles.json", _search="國安法", _shape="array", _col="id")
    lines = await lines_of(ds, q="國安法")
    assert {r["id"] for r in data} == {article for article, *_ in lines}


# Links to the three pages


async def test_a_search_page_links_its_concordance_collocates_and_keywords(ds):
    html = await html_of(ds, "/news/articles", _search="國安法", year="2021")
    query = "q=%E5%9C%8B%E5%AE%89%E6%B3%95&amp;year=2021"
    assert f'<a href="/news/-/concordance?{query}">詞語索引 Concordance</a>' in html
    assert f'<a href="/news/-/collocates?{query}">搭配詞 Collocates</a>' in html
    assert f'<a href="/news/-/keywords?{query}">關鍵詞 Keywords of these articles</a>' in html


async def test_a_tag_page_links_the_keywords_of_its_articles(ds):
    html = await html_of(ds, "/news/articles", tags__arraycontains="選舉")
    assert (
        '<a href="/news/-/keywords?tags__arraycontains=%E9%81%B8%E8%88%89">關鍵詞 Keywords of these articles</a>'
        in html
    )
    assert "/-/concordance?" not in html


async def test_the_trends_page_links_each_terms_concordance(ds):
    html = await html_of(ds, "/news/-/trends", q=["國安法", "投票站"])
    assert '<a href="/news/-/concordance?q=%E5%9C%8B%E5%AE%89%E6%B3%95">詞語索引 Concordance</a>' in html
    assert '<a href="/news/-/concordance?q=%E6%8A%95%E7%A5%A8%E7%AB%99">詞語索引 Concordance</a>' in html


async def test_the_whole_archive_page_has_no_language_links(ds):
    assert "Keywords of these articles" not in await html_of(ds, "/news/articles")


async def test_a_database_built_before_the_language_tables_says_to_rebuild(tmp_path, language_db):
    import shutil

    older = tmp_path / "news.db"
    shutil.copy(language_db, older)
    with sqlite3.connect(older) as conn:
        conn.execute("drop table article_texts")
    response = await language_datasette(older).client.get("/news/-/concordance.csv?q=國安法")
    assert response.status_code == 404
    assert "news was built before the concordance, collocates and keywords: build it again" in response.text


async def test_a_collocates_link_narrows_the_concordance_to_its_lines(ds):
    rows = {fold(r["collocate"]): r for r in await collocate_rows(ds, q="國安法", window=10)}
    lines = await lines_of(ds, q="國安法", width=10, context="違反")
    assert len(lines) == int(rows["违反"]["hits"]) == 5
    assert all("違反" in left + right for _, left, _, right, _ in lines)


def test_the_archives_counts_are_stored_in_pieces_a_connection_may_read():
    import numpy as np

    from hkcnews.ngrams import PIECE_BYTES, NgramArrays, array_rows

    arrays = NgramArrays(np.arange(200_000, dtype=np.uint64), np.arange(200_000), np.arange(200_000) * 2)
    rows = list(array_rows(arrays))
    assert max(len(data) for *_, data in rows) == PIECE_BYTES < 1_000_000
    again = NgramArrays.from_rows(rows)
    assert all((again[name] == arrays[name]).all() for name in NgramArrays.DTYPES)


# The query language


@pytest.mark.parametrize(
    "q, articles",
    [
        ("國安法 -選舉", {REPEATED, MARKUP, SIMPLIFIED}),
        ("投票站 OR 简体", set(ELECTION) | {SIMPLIFIED}),
        ("(候選人 OR 遊行) 國安法", set(ELECTION) | {MARKUP}),
        ("警方 NEAR/5 國安法", {ELECTION[0], ELECTION[2], ELECTION[4]}),
        ("警方 NEAR/4 國安法", set()),
        ("市民 NEAR/2 國安法", {REPEATED}),
    ],
)
async def test_the_concordance_reads_the_query_language(ds, q, articles):
    lines = await lines_of(ds, q=q)
    assert {article for article, *_ in lines} == articles


@pytest.mark.parametrize(
    "q, problem", [("國安法 OR", "OR"), ('"unclosed', "quote"), ("-", "-"), ("(香港", "( has no )")]
)
async def test_a_query_that_does_not_parse_is_a_400_naming_it(ds, q, problem):
    for page in ("concordance.csv", "collocates.csv", "keywords.csv"):
        response = await ds.client.get(f"/news/-/{page}", params={"q": q})
        assert response.status_code == 400, page
        assert response.text.startswith("q: ") and problem in response.text, response.text


# Labels: the Chinese first, the English beside it


async def test_the_concordance_page_title_and_heading_are_in_chinese_and_english(ds):
    html = await html_of(ds, "/news/-/concordance", q="國安法")
    assert "<title>國安法: 詞語索引 concordance</title>" in html
    assert '<h1 lang="zh-Hant-HK">詞語索引 <span lang="en">Concordance</span></h1>' in html


async def test_the_concordance_head_gives_its_counts_in_chinese_before_the_english(ds):
    html = await html_of(ds, "/news/-/concordance", q="國安法")
    assert '<span lang="zh-Hant-HK">在 8 篇文章中找到 13 處</span> <strong>13 hits in 8 articles</strong>' in html


async def test_the_concordance_sorts_and_links_are_in_chinese_and_english(ds):
    html = await html_of(ds, "/news/-/concordance", q="國安法")
    assert '<p class="hkc-sorts">排序 Sort by:' in html
    assert "<strong>日期 date</strong>" in html
    assert '<option value="random">隨機 random</option>' in html
    assert ">文章 The articles</a> · " in html
    assert ">搭配詞 Collocates</a> · " in html
    assert ">關鍵詞 Keywords of these articles</a>" in html
    assert " · 下載 Download: " in html


async def test_the_concordance_sort_menu_still_sends_the_sort_names(ds):
    html = await html_of(ds, "/news/-/concordance", q="國安法")
    assert re.findall(r'<option value="([^"]+)"', html) == ["date", "1L", "2L", "1R", "2R", "random"]


async def test_the_concordance_pages_are_numbered_in_chinese_and_english(ds):
    html = await html_of(ds, "/news/-/concordance", q="測試詞")
    assert "第 1 頁，共 2 頁 Page 1 of 2" in html


async def test_the_collocates_page_title_and_table_are_in_chinese_and_english(ds):
    html = await html_of(ds, "/news/-/collocates", q="國安法")
    assert "<title>國安法: 搭配詞 collocates</title>" in html
    assert (
        "<th>搭配詞 Collocate</th><th>命中 Hits</th><th>全庫文章 Archive articles</th>"
        "<th>logDice</th><th>對數似然 Log-likelihood</th>"
    ) in html
    assert '<p class="hkc-sorts">排序 Rank by:' in html
    assert ">次數 count</a>" in html


async def test_the_keywords_page_title_and_table_are_in_chinese_and_english(ds):
    html = await html_of(ds, "/news/-/keywords", tags__arraycontains="選舉")
    assert "<title>關鍵詞 Keywords: " in html
    assert '<span lang="zh-Hant-HK">5 篇文章</span> <strong>5 articles</strong>' in html
    assert (
        "<th>關鍵詞 Keyword</th><th>本組文章 Articles of the set</th><th>全庫文章 Archive articles</th>"
        "<th>簡單數學 Simple maths</th><th>對數似然 Log-likelihood</th>"
    ) in html


async def test_the_keywords_page_without_a_selection_asks_for_one_in_chinese_and_english(ds):
    html = await html_of(ds, "/news/-/keywords")
    assert "<title>關鍵詞 Keywords</title>" in html
    assert "<p>請輸入搜尋或篩選 Give a search or a filter, for example" in html
