"""The archive as Datasette serves it: facets, canned queries, downloads,
and the metadata that documents it."""

import csv
import io

import pytest

from .helpers import METADATA, QUERY_EXTRA, get_json, table_json


def facet_counts(data, name):
    return {(r["value"], r["count"]) for r in data["facet_results"][name]["results"]}


async def test_default_facets_on_articles(ds):
    data = await table_json(ds, "/news/articles.json")
    assert set(data["facet_results"]) == {"category", "tags", "author", "year"}
    assert facet_counts(data, "category") == {("國際", 3), ("眾聞", 2), ("眾聲", 1)}
    assert facet_counts(data, "year") == {(2020, 2), (2021, 4)}
    assert ("台灣", 2) in facet_counts(data, "tags")
    assert ("中美關係", 1) in facet_counts(data, "tags")


async def test_tag_facet_link_lists_only_articles_with_that_tag(ds):
    data = await table_json(ds, "/news/articles.json")
    (taiwan,) = [r for r in data["facet_results"]["tags"]["results"] if r["value"] == "台灣"]
    assert "tags__arraycontains=%E5%8F%B0%E7%81%A3" in taiwan["toggle_url"]
    rows = await table_json(ds, "/news/articles.json", tags__arraycontains="台灣", _shape="array")
    assert [r["id"] for r in rows] == [50002, 50001]


async def test_facets_apply_to_search_results(ds):
    data = await table_json(ds, "/news/articles.json", _search="台灣")
    assert facet_counts(data, "category") == {("國際", 3)}
    assert facet_counts(data, "tags") >= {("台灣", 2), ("選舉", 1)}


async def test_newest_articles_first(ds):
    rows = await table_json(ds, "/news/articles.json", _shape="array", _col="date")
    assert [r["date"] for r in rows] == [
        "2021-10-01",
        "2021-07-15",
        "2021-07-02",
        "2021-03-19",
        "2020-01-12",
        "2020-01-11",
    ]


async def test_article_row_page_uses_the_title_as_label(ds):
    response = await ds.client.get("/news/articles/39427")
    assert response.status_code == 200
    assert "中美阿拉斯加會談首日激烈交鋒" in response.text


async def test_tag_counts_query(ds):
    rows = await get_json(ds, "/news/tag_counts.json", _shape="array")
    assert rows[:3] == [{"tag": "台灣", "articles": 2}, {"tag": "天氣", "articles": 2}, {"tag": "文化", "articles": 2}]
    assert len(rows) == 8
    assert await get_json(ds, "/news/tag_counts.json", contains="氣", _shape="array") == [
        {"tag": "天氣", "articles": 2}
    ]


async def test_articles_for_tag_query(ds):
    rows = await get_json(ds, "/news/articles_for_tag.json", tag="台灣", _shape="array")
    assert rows == [
        {"id": 50002, "title": "台湾新闻简报", "date": "2020-01-12", "author": "眾新聞記者", "category": "國際"},
        {"id": 50001, "title": "臺灣大選投票日", "date": "2020-01-11", "author": "眾新聞記者", "category": "國際"},
    ]


async def test_articles_per_month_query(ds):
    rows = await get_json(ds, "/news/articles_per_month.json", _shape="array")
    assert rows == [
        {"month": "2020-01", "articles": 2},
        {"month": "2021-03", "articles": 1},
        {"month": "2021-07", "articles": 2},
        {"month": "2021-10", "articles": 1},
    ]
    assert await get_json(ds, "/news/articles_per_month.json", category="眾聞", _shape="array") == [
        {"month": "2021-07", "articles": 1},
        {"month": "2021-10", "articles": 1},
    ]


async def test_figures_by_credit_query(ds):
    rows = await get_json(ds, "/news/figures_by_credit.json", _shape="array")
    assert sorted(rows, key=lambda r: r["credit"]) == sorted(
        [
            {"credit": "何君健攝", "figures": 1, "articles": 1},
            {"credit": "美聯社圖片", "figures": 1, "articles": 1},
            {"credit": "資料圖片", "figures": 1, "articles": 1},
        ],
        key=lambda r: r["credit"],
    )
    assert await get_json(ds, "/news/figures_by_credit.json", contains="攝", _shape="array") == [
        {"credit": "何君健攝", "figures": 1, "articles": 1}
    ]


async def test_csv_download_of_a_search_has_full_field_values(ds, corpus_db):
    response = await ds.client.get("/news/articles.csv", params={"_search": "崔天凱", "_size": "max"})
    assert response.status_code == 200
    (row,) = csv.DictReader(io.StringIO(response.text))
    assert row["id"] == "39427"
    assert row["tags"] == '["中美關係", "布林肯Antony Blinken", "中國駐美大使崔天凱", "阿拉斯加會談"]'
    assert row["body"].endswith('Blinken said the talks were "tough and direct".')
    assert len(row["body"]) > 1000


async def test_search_page_offers_csv_and_json_links(ds):
    response = await ds.client.get("/news/articles", params={"_search": "台灣"})
    assert response.status_code == 200
    assert "/news/articles.csv?_search=%E5%8F%B0%E7%81%A3" in response.text
    assert "/news/articles.json?_search=%E5%8F%B0%E7%81%A3" in response.text


async def test_json_download_of_canned_search(ds):
    response = await ds.client.get("/news/search.json", params={"q": "維港", "_shape": "array"})
    assert [r["id"] for r in response.json()] == [50005]
    response = await ds.client.get("/news/search.csv", params={"q": "維港"})
    assert response.text.splitlines()[0] == "id,title,date,author,category,snippet"


def test_every_table_and_canned_query_is_documented():
    news = METADATA["databases"]["news"]
    for table in ("articles", "figures", "tags", "article_tags", "authors", "captures"):
        assert news["tables"][table]["description"]
    for name in ("search", "tag_counts", "articles_for_tag", "feed", "articles_per_month", "figures_by_credit"):
        query = news["queries"][name]
        assert query["title"] and (query.get("description") or query.get("description_html"))
    assert "copyright" in METADATA["license"]


def test_every_column_of_articles_and_captures_is_described():
    from hkcnews.build.tables import ARTICLE_COLUMNS, CAPTURE_COLUMNS

    tables = METADATA["databases"]["news"]["tables"]
    assert list(tables["articles"]["columns"]) == list(ARTICLE_COLUMNS)
    assert list(tables["captures"]["columns"]) == list(CAPTURE_COLUMNS)


async def test_canned_queries_declare_their_named_parameters(ds):
    data = await get_json(ds, "/news/search.json", q="香港", **QUERY_EXTRA)
    assert data["query"]["params"] == {"q": "香港", "tag": "", "from": "", "to": ""}


async def test_selected_tag_is_marked_and_other_counts_follow_the_filter(ds):
    data = await table_json(ds, "/news/articles.json", tags__arraycontains="台灣")
    tags = {r["value"]: (r["count"], r["selected"]) for r in data["facet_results"]["tags"]["results"]}
    assert tags == {"台灣": (2, True), "選舉": (1, False)}
    assert facet_counts(data, "category") == {("國際", 2)}


async def test_two_tag_filters_must_both_match(ds):
    rows = await table_json(ds, "/news/articles.json", tags__arraycontains=["台灣", "選舉"], _shape="array")
    assert [r["id"] for r in rows] == [50001]


async def test_tag_facet_without_matches_is_empty_not_timed_out(ds):
    data = await table_json(ds, "/news/articles.json", _search="不存在的詞")
    assert data["facet_results"]["tags"]["results"] == []
    page = await ds.client.get("/news/articles", params={"_search": "不存在的詞"})
    assert "timed out" not in page.text


@pytest.mark.parametrize(
    "params,message",
    [
        ({"_sort": "nonexistent"}, "Cannot sort table by nonexistent"),
        ({"_sort_desc": "nonexistent", "_search": "台灣"}, "Cannot sort table by nonexistent"),
    ],
)
async def test_a_sort_by_a_column_the_table_has_not_is_a_400(ds, params, message):
    response = await ds.client.get("/news/articles.json", params=params)
    assert (response.status_code, response.json()["error"]) == (400, message)
