"""The canned search's order: the articles whose headline matches first,
newest first, then the rest by relevance; the same articles as the table's
search, in the same order as `python -m hkcnews.search`."""

import pytest

from build_db import build
from hkcnews.search import search

from .helpers import article_md, datasette_for, seeds_with

FILLER = "本港今日天晴，市民外出活動。" * 30
# 防風林帶 in three headlines (and their long bodies once), and in the bodies
# alone of three short articles that repeat it, which BM25 scores higher.
HEADLINES = {80001: "2021-03-02", 80002: "2021-08-10", 80003: "2021-01-05"}
BODIES = {80011: (12, "2021-12-03"), 80012: (6, "2021-12-02"), 80013: (2, "2021-12-01")}
# 紅樹林灘 in one headline, and in one body many times.
ONE_HEADLINE, ONE_BODY = 80021, 80022
FILES = {
    **{
        f"r/{n}.md": article_md(n, f"新界防風林帶計劃{n}", FILLER + "防風林帶。" + FILLER, date=date)
        for n, date in HEADLINES.items()
    },
    **{
        f"r/{n}.md": article_md(n, f"郊野公園{n}", "防風林帶，" * times, date=date)
        for n, (times, date) in BODIES.items()
    },
    f"r/{ONE_HEADLINE}.md": article_md(ONE_HEADLINE, "紅樹林灘保育", FILLER + "紅樹林灘。", date="2020-05-01"),
    f"r/{ONE_BODY}.md": article_md(ONE_BODY, "濕地", "紅樹林灘，" * 10, date="2021-05-01"),
}


@pytest.fixture(scope="module")
def ranking_db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ranking")
    db = folder / "news.db"
    build(seeds_with(folder, FILES), db)
    return db


@pytest.fixture
def rds(ranking_db):
    return datasette_for(ranking_db)


async def canned(ds, q):
    response = await ds.client.get("/news/search.json", params={"q": q, "_shape": "array"})
    assert response.status_code == 200, response.text
    return [row["id"] for row in response.json()]


async def test_several_headline_matches_come_first_newest_first(rds):
    assert await canned(rds, "防風林帶") == [80002, 80001, 80003, 80011, 80012, 80013]


async def test_the_one_headline_match_comes_first(rds):
    assert await canned(rds, "紅樹林灘") == [ONE_HEADLINE, ONE_BODY]


async def test_a_headline_match_needs_the_whole_query_in_the_headline(rds):
    # 防風林帶 is in the bodies of 80011-80013, 公園 in their headlines: no
    # headline has both, so BM25 alone orders them (not newest first).
    assert await canned(rds, "防風林帶 公園") == [80013, 80012, 80011]


async def test_either_side_of_or_in_a_headline_makes_a_headline_match(rds):
    assert await canned(rds, "防風林帶 OR 郊野公園") == [80011, 80012, 80013, 80002, 80001, 80003]


async def test_a_one_character_query_finds_headlines_too(rds):
    # 界 stands inside a run of the headline (新界防風林帶計劃), where the
    # title's index has it only as the start of a pair.
    assert (await canned(rds, "界 防風林帶"))[:3] == [80002, 80001, 80003]


@pytest.mark.parametrize("q", ["防風林帶", "紅樹林灘", "防風林帶 OR 郊野公園", "林"])
async def test_ranking_keeps_the_set_of_results(rds, q):
    response = await rds.client.get("/news/articles.json", params={"_search": q, "_col": "id", "_shape": "array"})
    assert sorted(await canned(rds, q)) == sorted(row["id"] for row in response.json())


@pytest.mark.parametrize("q", ["防風林帶", "紅樹林灘", "防風林帶 OR 郊野公園", "界 防風林帶", "林"])
async def test_the_command_line_search_ranks_as_the_canned_search(rds, ranking_db, q):
    assert [row["id"] for row in search(ranking_db, q, limit=100)] == await canned(rds, q)
