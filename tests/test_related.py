"""Related articles on an article page (hkcnews/site/related.py)."""

import re
import sqlite3

import pytest

from hkcnews.site.connections import prepare
from hkcnews.site.related import LIMIT, related

from .helpers import html_of
from .language import ELECTION, LONG, WEATHER_ARTICLE, WEATHER_REPEAT, language_datasette


def related_ids(db, article_id):
    conn = sqlite3.connect(db)
    prepare(conn)
    try:
        return [r["id"] for r in related(conn, article_id)]
    finally:
        conn.close()


def test_the_articles_sharing_more_tags_and_distinctive_words_come_first(language_db):
    # All share 天氣 and 天文台預測; 60043 the tag 寒流 too. Ties: newest number first.
    assert related_ids(language_db, WEATHER_ARTICLE) == [60043, 60046, 60045, 60044]


def test_an_article_is_never_related_to_itself_nor_to_its_other_capture(language_db):
    with sqlite3.connect(language_db) as conn:
        statuses = dict(
            conn.execute("select id, status from captures where id in (?, ?)", [WEATHER_ARTICLE, WEATHER_REPEAT])
        )
    assert statuses == {WEATHER_ARTICLE: "article", WEATHER_REPEAT: "repeat"}
    for article in (WEATHER_ARTICLE, 60043, 60044, 60045, 60046):
        ids = related_ids(language_db, article)
        assert article not in ids and WEATHER_REPEAT not in ids


@pytest.mark.parametrize("article", ELECTION)
def test_at_most_five_related_articles_each_another_article(language_db, article):
    ids = related_ids(language_db, article)
    assert 0 < len(ids) <= LIMIT and len(set(ids)) == len(ids)
    assert set(ids) <= set(ELECTION) - {article}


def test_the_election_articles_are_each_others_related(language_db):
    assert sorted(related_ids(language_db, ELECTION[0])) == ELECTION[1:]


async def test_the_article_page_lists_its_related_articles(language_db):
    html = await html_of(language_datasette(language_db), f"/news/articles/{WEATHER_ARTICLE}")
    section = re.search(r'<section class="hkc-related">(.*?)</section>', html, re.S).group(1)
    assert '相關文章 <span lang="en">Related articles</span>' in section
    assert re.findall(r'<a href="/news/articles/(\d+)">([^<]+)</a>', section)[:2] == [
        ("60043", "寒流襲港"),
        ("60046", "秋高氣爽60046"),
    ]


async def test_an_article_with_nothing_in_common_lists_none(language_db):
    # 長文 shares no tag, and its only words, 測試詞, are in no other article.
    html = await html_of(language_datasette(language_db), f"/news/articles/{LONG}")
    assert 'class="hkc-related"' not in html
