"""Searching the archive through Datasette, as a reader does: the table
search box (?_search=), datasette-search-all and the canned search query."""

import pytest
from markupsafe import escape

from hkcnews.terms import QuerySyntaxError, check_query

from .helpers import HOSTILE_QUERIES, datasette_for, table_json


async def search_ids(ds, query, table="articles"):
    response = await ds.client.get(
        f"/news/{table}.json", params={"_search": query, "_shape": "array", "_col": "id", "_size": "max"}
    )
    assert response.status_code == 200, response.text
    return {row["id"] for row in response.json()}


@pytest.mark.parametrize("query", ["香港", "港", "崔天凱", "崔天凯", "阿拉斯加", "Blinken"])
async def test_seed_is_found(seed_ds, query):
    assert await search_ids(seed_ds, query) == {39427}


@pytest.mark.parametrize(
    "query,why",
    [
        ("訂戶", "only in the subscription footer"),
        ("香港台灣", "the text has 香港、台灣"),
        ("新聞", "only in image paths and the footer"),
        ("fmprc", "only in a link target"),
        ("hk-discuss", "only in image paths"),
    ],
)
async def test_seed_is_not_found(seed_ds, query, why):
    assert await search_ids(seed_ds, query) == set(), why


@pytest.mark.parametrize(
    "query,expected",
    [
        ("港", {39427, 50003, 50005}),  # 1 character: 香港, 港的, 亞港, 維港 in a caption
        ("天", {39427, 50003, 50004}),
        ("香港", {39427}),  # 2 characters; 香，港 in 50003 does not count
        ("今日", {50001, 50003, 50004}),
        ("選舉結", {50002}),  # 3 characters, found in simplified text
        ("崔天凯", {39427}),
        ("阿拉斯加", {39427}),  # 4 characters
        ("結果今晚", {50001}),
        ("今晚結果", set()),
    ],
)
async def test_chinese_terms_of_any_length_match_exactly(ds, query, expected):
    assert await search_ids(ds, query) == expected


@pytest.mark.parametrize("query", ["台灣", "臺灣", "台湾"])
async def test_traditional_and_simplified_find_each_other(ds, query):
    assert await search_ids(ds, query) == {39427, 50001, 50002}


async def test_simplified_query_finds_traditional_text(ds):
    assert await search_ids(ds, "选民") == {50001}


async def test_no_match_across_punctuation_or_spaces(ds):
    assert await search_ids(ds, "香港") == {39427}
    assert await search_ids(ds, "香港台灣") == set()
    assert await search_ids(ds, "港的") == {50003}


async def test_caption_text_is_searched_but_image_paths_are_not(ds):
    assert await search_ids(ds, "維港") == {50005}
    assert await search_ids(ds, "新聞") == {50002}  # 50002's title says 新闻; the pictures' paths do not count


@pytest.mark.parametrize("query", ["Blinken", "blinken", "BLINKEN"])
async def test_latin_terms_match_whole_words_in_any_case(ds, query):
    assert await search_ids(ds, query) == {39427}


async def test_latin_term_with_punctuation(ds):
    assert await search_ids(ds, "COVID-19") == {50004}
    assert await search_ids(ds, "covid-19") == {50004}


async def test_terms_separated_by_spaces_must_all_match(ds):
    assert await search_ids(ds, "今日 公布") == {50001}
    assert await search_ids(ds, "今日 Blinken") == set()


async def test_double_quotes_make_a_phrase(ds):
    assert await search_ids(ds, '"tough and direct"') == {39427}
    assert await search_ids(ds, '"direct and tough"') == set()
    assert await search_ids(ds, "direct and tough") == {39427}


async def test_figures_table_search(ds):
    response = await ds.client.get("/news/figures.json", params={"_search": "維港", "_shape": "array"})
    assert [(r["article_id"], r["caption"], r["credit"]) for r in response.json()] == [
        (50005, "維港上空的煙花。", "何君健攝")
    ]
    assert await search_ids(ds, "新聞", table="figures") == set()


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
async def test_hostile_queries_give_a_list_or_say_what_is_wrong(ds, query):
    articles = await ds.client.get("/news/articles.json", params={"_search": query, "_shape": "array"})
    figures = await ds.client.get("/news/figures.json", params={"_search": query, "_shape": "array"})
    canned = await ds.client.get("/news/search.json", params={"q": query, "_shape": "array"})
    page = await ds.client.get("/news/articles", params={"_search": query})
    try:
        check_query(query)
    except QuerySyntaxError as e:
        # Never a silent empty list: a 400 naming the problem, in every form.
        for response in (articles, figures, canned, page):
            assert response.status_code == 400, response.text
        for response in (articles, figures, canned):
            assert response.json()["error"] == f"Search: {e}. How to search: /news/-/search-help"
        assert str(escape(str(e))) in page.text
        return
    for response in (articles, figures, canned):
        assert response.status_code == 200, response.text
        assert isinstance(response.json(), list)
    assert page.status_code == 200


async def test_search_all_page_lists_articles_and_figures(ds):
    response = await ds.client.get("/-/search", params={"q": "港"})
    assert response.status_code == 200
    assert '"url_json": "/news/articles.json"' in response.text
    assert '"url_json": "/news/figures.json"' in response.text


async def canned_search(ds, **params):
    response = await ds.client.get("/news/search.json", params={**params, "_shape": "array"})
    assert response.status_code == 200, response.text
    return response.json()


async def test_canned_search_ranks_and_marks_the_match(ds):
    (row,) = await canned_search(ds, q="崔天凯")
    assert (row["id"], row["title"], row["date"]) == (
        39427,
        "中美阿拉斯加會談首日激烈交鋒　布林肯提香港、台灣　楊潔篪斥美方「居高臨下」",
        "2021-03-19",
    )
    assert "中國駐美大使<mark>崔天凱</mark>亦有出席" in row["snippet"]


async def test_canned_search_ranks_title_matches_first(ds):
    rows = await canned_search(ds, q="天氣")
    assert [r["id"] for r in rows] == [50003, 50004]  # 50003 has it in its title


@pytest.mark.parametrize(
    "params,expected",
    [
        ({"tag": "選舉"}, [50001]),
        ({"from": "2020-01-12"}, [39427, 50002]),
        ({"to": "2020-01-11"}, [50001]),
        ({"from": "2020-01-12", "to": "2020-12-31"}, [50002]),
    ],
)
async def test_canned_search_filters_by_tag_and_dates(ds, params, expected):
    assert sorted(r["id"] for r in await canned_search(ds, q="台灣", **params)) == expected


async def test_canned_search_snippet_is_html_safe(tmp_path):
    from build_db import build

    from .helpers import article_md, seeds_with

    folder = seeds_with(
        tmp_path, {"x.md": article_md(90001, "測試", "香港 &lt;script&gt;alert(1)&lt;/script&gt; <b>粗</b> a < b 香港")}
    )
    build(folder, tmp_path / "news.db")
    ds = datasette_for(tmp_path / "news.db")
    rows = await canned_search(ds, q="alert")
    assert rows[0]["snippet"] == "香港 &lt;script&gt;<mark>alert</mark>(1)&lt;/script&gt; 粗 a &lt; b 香港"
    page = await ds.client.get("/news/search", params={"q": "alert"})
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;<mark>alert</mark>(1)" in page.text


async def test_canned_search_with_no_query_is_empty(ds):
    assert await canned_search(ds, q="") == []


async def test_search_pages_list_every_hit_once_across_pages(tmp_path):
    from build_db import build

    from .helpers import article_md, seeds_with

    # 25 articles on one day and 5 on the next: pages of 10 end inside a day.
    files = {
        f"p/{n}.md": article_md(n, f"同日{n}", "今日天氣晴朗。", date="2021-05-0" + ("1" if n % 6 else "2"))
        for n in range(60001, 60031)
    }
    build(seeds_with(tmp_path, files), tmp_path / "news.db")
    ds = datasette_for(tmp_path / "news.db")
    seen, params = [], {"_search": "天氣", "_size": "10", "_shape": "objects"}
    while True:
        data = (await ds.client.get("/news/articles.json", params=params)).json()
        seen += [row["id"] for row in data["rows"]]
        if not data["next"]:
            break
        params["_next"] = data["next"]
    assert sorted(seen) == list(range(60001, 60031))


@pytest.mark.parametrize("table,rewritten", [("articles", True), ("figures", False)])
async def test_article_searches_are_read_in_date_index_order(ds, table, rewritten):
    # The 100,000-article benchmark showed streamed CSVs of a search skipping
    # and repeating articles of the day a page ended on without this clause.
    data = await table_json(ds, f"/news/{table}.json", _search="港")
    assert (f"+rowid in (select rowid from {table}_fts" in data["query"]["sql"]) is rewritten
