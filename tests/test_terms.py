"""The one place that decides what is indexed and what a query looks for."""

import sqlite3

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from hkcnews.terms import fold, fts_query, index_article, index_chars, index_terms, query_terms, visible_text

from .helpers import HOSTILE_QUERIES


def test_fold_is_simplified_script_and_keeps_length():
    text = "崔天凱在臺灣說ＣＯＶＩＤ"
    assert fold(text) == "崔天凯在台湾说COVID"
    assert len(fold(text)) == len(text)


def test_index_terms_are_bigrams_and_the_last_character_of_each_run():
    assert index_terms("香港、台灣 Blinken說COVID疫苗").split() == [
        "香港",
        "港",
        "、",
        "台湾",
        "湾",
        "Blinken",
        "说",
        "COVID",
        "疫苗",
        "苗",
    ]


def test_index_chars_are_each_character_once_in_simplified_script():
    assert index_chars("臺灣、台灣 Blinken 香港") == "台 港 湾 香"


# Traditional and simplified ideographs, kana, full-width letters, the
# ideographic space, control characters, Latin and punctuation.
_TEXT = st.text(st.sampled_from("臺台灣湾香港說说ＣＯ　の・、。\x00\x1f\n ab-9"), max_size=40) | st.none()


@given(title=_TEXT, body=_TEXT)
@example(title=None, body="")
@example(title="香\x00港", body="港\n台")
def test_an_article_is_indexed_as_its_parts_are(title, body):
    # The build's one pass gives what the separate functions give.
    expected = (index_chars(f"{title or ''}\n{body or ''}"), index_terms(title or ""), index_terms(body or ""))
    assert index_article(title, body) == expected


def test_visible_text_drops_urls_tags_and_link_targets():
    markdown = (
        '<figure><img src="https://x/news_新聞/a.jpg" alt="圖"><figcaption>說明</figcaption></figure>'
        "見 [官方網站](/web/2021/https://www.gov.hk/新聞) 及 https://www.hkcnews.com/新聞 ![相](https://x/新聞.jpg)"
    )
    assert visible_text(markdown).split() == ["見", "官方網站", "及", "相"]


@pytest.mark.parametrize(
    "query,expected",
    [
        ("香港", '"香港"'),
        ("港", '"港"'),
        ("，港", '"港"'),
        ("崔天凯", '"崔天 天凯"'),
        ("臺灣選舉", '"台湾 湾选 选举"'),
        ("Blinken", '"Blinken"'),
        ("香港 台灣", '"香港" AND "台湾"'),
        ('"香港 台灣"', '"香港 港 台湾"'),
        ("COVID-19疫", '"COVID-19 疫" *'),
        ("a OR b", '"a" AND "OR" AND "b"'),
        ("", '""'),
        ("，。*", '""'),
    ],
)
def test_fts_query(query, expected):
    assert fts_query(query) == expected


def test_unclosed_quote_runs_to_the_end():
    assert query_terms('中美 "香港 台灣') == ["中美", "香港 台湾"]


# And one longer than a URL can carry to a search page.
@pytest.mark.parametrize("query", [*HOSTILE_QUERIES, "香" * 10_000])
def test_fts_query_is_always_valid_fts5(query):
    conn = sqlite3.connect(":memory:")
    conn.execute("create virtual table t using fts5(a, b, tokenize='unicode61 remove_diacritics 2')")
    text = "香港、台灣。" + "香" * 20
    conn.execute("insert into t (a, b) values (?, ?)", [index_terms(text), index_chars(text)])
    conn.execute("select rowid from t where t match ?", [fts_query(query)]).fetchall()
