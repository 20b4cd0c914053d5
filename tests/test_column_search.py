"""A column search (?_search_title=, ?_search_body=, the figures'
?_search_caption=) reads the same query language as the search box, and
finds a lone character inside a word too (hkcnews/site/filters.py)."""

import pytest


@pytest.mark.parametrize(
    "column,query,expected",
    [
        # 氣 stands inside 天氣報告: the title's own index has it only as part of a pair.
        ("title", "氣", [50003]),
        ("body", "氣", [50003, 50004]),
        ("title", "港", [39427]),
        ("title", "天氣 -報告", []),
        ("title", "天氣 OR Blinkenlights", [50003, 50004]),
        ("body", "港 NEAR/2 天氣", [50003]),
        ("body", "港 NEAR/0 天氣", []),
    ],
)
async def test_a_column_search_of_articles_finds_what_the_column_says(ds, column, query, expected):
    response = await ds.client.get("/news/articles.json", params={f"_search_{column}": query, "_shape": "array"})
    assert response.status_code == 200, response.text
    assert sorted(row["id"] for row in response.json()) == expected


@pytest.mark.parametrize("query,expected", [("煙", [50005]), ("煙 NEAR/3 港", [50005]), ("煙 NEAR/2 港", [])])
async def test_a_column_search_of_figures_finds_what_the_caption_says(ds, query, expected):
    response = await ds.client.get("/news/figures.json", params={"_search_caption": query, "_shape": "array"})
    assert response.status_code == 200, response.text
    assert [row["article_id"] for row in response.json()] == expected


async def test_a_column_search_that_does_not_parse_is_a_400(ds):
    response = await ds.client.get("/news/articles.json", params={"_search_title": "國安法 OR"})
    assert response.status_code == 400


async def test_a_column_search_shows_passages_too(ds):
    response = await ds.client.get("/news/articles.json", params={"_search_body": "炎熱", "_shape": "array"})
    assert [row["snippet"] for row in response.json()] == ["香，港的天氣今日<mark>炎熱</mark>。維多利亞港海面平靜。"]
