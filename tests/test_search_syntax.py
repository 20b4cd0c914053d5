"""The query language on every search of the site: what each operator
finds (the oracle's answer, on the fixture corpus), and a query that does
not parse answered 400 with its problem in every form, never a 500 or an
empty list; the search help page and its links."""

import re
import sqlite3

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from markupsafe import escape

from hkcnews.site import connections
from hkcnews.site.search_syntax import SEARCH_QUERIES
from hkcnews.terms import QuerySyntaxError, check_sql, matches, searched_body, visible_text

from .helpers import ROOT

# Each operator on the corpus of tests/helpers.py (CORPUS), as the oracle reads it.
OPERATOR_CASES = [
    ("今日 天氣", {50003, 50004}),
    ("今日 AND 天氣", {50003, 50004}),
    ("煙花 OR Blinkenlights", {50004, 50005}),
    ("天氣 -炎熱", {50004}),
    ("天氣 NOT 炎熱", {50004}),
    ("今日 -(投票 OR 炎熱)", {50004}),
    ('"COVID-19 rules"', {50004}),
    ('"rules COVID-19"', set()),
    ('"今日投票"', {50001}),  # quoted Chinese: the characters adjacent, as unquoted
    ("臺灣 NEAR/2 投票", {50001}),  # in the title 臺灣大選投票日: two characters between
    ("臺灣 NEAR/1 投票", set()),  # and four in the text
    ("天氣 NEAR/3 今日", {50003, 50004}),  # 今日開幕，天氣: three between, spaces and punctuation count
    ("天氣 NEAR/2 今日", {50003}),
    ("天氣 NEAR 今日", {50003, 50004}),
    ("香 NEAR/1 港", {39427, 50003}),  # 香，港 and 香港
    ("香 NEAR/0 港", {39427}),
    ("blinkenlights NEAR/5 SHOW", {50004}),
    ("(天氣 OR 煙花) -炎熱", {50004, 50005}),
    ("维港 NEAR 煙花", {50005}),  # in a caption; simplified finds traditional
]


def oracle_ids(db, query):
    conn = sqlite3.connect(db)
    figures = {}
    for article_id, caption, credit, alt in conn.execute(
        "select article_id, caption, credit, alt from figures order by article_id, position"
    ):
        figures.setdefault(article_id, []).append((caption, credit, alt))
    rows = conn.execute("select id, title, body from articles").fetchall()
    conn.close()
    return {
        i
        for i, title, body in rows
        if matches(query, (title or "", searched_body(visible_text(body or ""), figures.get(i, []))))
    }


async def table_ids(ds, query):
    response = await ds.client.get(
        "/news/articles.json", params={"_search": query, "_shape": "array", "_col": "id", "_size": "max"}
    )
    assert response.status_code == 200, response.text
    return {row["id"] for row in response.json()}


@pytest.mark.parametrize("query,expected", OPERATOR_CASES)
async def test_each_operator_finds_what_the_oracle_says(ds, corpus_db, query, expected):
    assert oracle_ids(corpus_db, query) == expected
    assert await table_ids(ds, query) == expected
    canned = await ds.client.get("/news/search.json", params={"q": query, "_shape": "array"})
    assert {row["id"] for row in canned.json()} == expected
    trends = (await ds.client.get("/news/-/trends.json", params={"q": query})).json()
    assert sum(r["terms"][query]["articles"] for r in trends["rows"]) == len(expected)


async def test_a_near_search_shows_the_exact_check_only_when_it_needs_one(ds):
    near = (
        await ds.client.get("/news/articles.json", params={"_search": "天氣 NEAR/2 今日", "_extra": "query"})
    ).json()
    plain = (await ds.client.get("/news/articles.json", params={"_search": "天氣 今日", "_extra": "query"})).json()
    assert "search_article_matches(:search" in near["query"]["sql"]
    assert "search_article_matches" not in plain["query"]["sql"]


async def test_figures_table_near_is_exact(ds):
    response = await ds.client.get("/news/figures.json", params={"_search": "維港 NEAR/3 煙花", "_shape": "array"})
    assert [r["article_id"] for r in response.json()] == [50005]  # 維港上空的煙花: 3 between
    response = await ds.client.get("/news/figures.json", params={"_search": "維港 NEAR/2 煙花", "_shape": "array"})
    assert response.json() == []


# Words of the corpus, and queries of every form built from them.
_WORDS = st.sampled_from(
    ["今日", "天氣", "臺灣", "台湾", "投票", "港", "香", "公布", "結果", "煙花", "維港", "炎熱", "展覽",
     "Blinkenlights", "show", "COVID-19", "rules", "的", '"COVID-19 rules"', "今日投票"]
)  # fmt: skip
_NEAR = st.tuples(_WORDS, st.sampled_from(["NEAR", "NEAR/0", "NEAR/1", "NEAR/3", "NEAR/6"]), _WORDS).map(" ".join)
_QUERIES = st.recursive(
    _WORDS | _NEAR,
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(" ".join),
        st.tuples(inner, inner).map(" OR ".join),
        st.tuples(inner, _WORDS).map(lambda p: f"{p[0]} -{p[1]}"),
        st.tuples(inner, inner).map(lambda p: f"({p[0]}) -({p[1]})"),
    ),
    max_leaves=4,
)


@pytest.fixture(scope="module")
def corpus_conn(corpus_db):
    conn = sqlite3.connect(corpus_db)
    connections.prepare(conn)
    yield conn
    conn.close()


# Every query that ever disagreed stays here.
# A NEAR under - : FTS5's superset of it must not be taken away.
FOUND = ["香 NEAR/1 港", "天氣 NEAR/3 今日", "(今日) -(今日 NEAR Blinkenlights)"]


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(query=_QUERIES)
@example(query=FOUND[0])
@example(query=FOUND[1])
@example(query=FOUND[2])
def test_the_search_clause_finds_what_the_oracle_says(corpus_conn, corpus_db, query):
    # The table page's clause as hkcnews/site/filters.py writes it.
    sql = (
        "select id from articles where rowid in (select rowid from articles_fts "
        f"where articles_fts match escape_fts(:search)) and {check_sql('search')}"
    )
    try:
        found = {i for (i,) in corpus_conn.execute(sql, {"search": query})}
    except sqlite3.Error:
        pytest.fail(query)
    try:
        expected = oracle_ids(corpus_db, query)
    except QuerySyntaxError:
        return
    assert found == expected


MALFORMED = [
    ("國安法 OR", '"國安法 OR": OR needs a term after it'),
    ('"unclosed', '""unclosed": a double quote " has no closing quote'),
    ("-", '"-": - needs a term right after it, as in -台灣'),
    ("NEAR", '"NEAR": NEAR needs a term before it'),
    ("(香港", '"(香港": ( has no ) after it'),
    (")", '")": ) has no ( before it'),
    ("-台灣", '"-台灣": a search needs at least one term that must occur, not only -terms'),
]
SEARCHES = {
    "table": ("/news/articles", "_search"),
    "figures": ("/news/figures", "_search"),
    "canned": ("/news/search", "q"),
    "trends": ("/news/-/trends", "q"),
}


def message(problem):
    return f"Search: {problem}. How to search: /news/-/search-help"


@pytest.mark.parametrize("query,problem", MALFORMED)
@pytest.mark.parametrize("search", sorted(SEARCHES))
async def test_a_query_that_does_not_parse_is_a_400_in_json_and_csv(ds, search, query, problem):
    path, param = SEARCHES[search]
    response = await ds.client.get(f"{path}.json", params={param: query})
    assert response.status_code == 400
    assert response.json()["error"] == message(problem)
    response = await ds.client.get(f"{path}.csv", params={param: query})
    assert response.status_code == 400
    assert response.text.strip() == message(problem)


@pytest.mark.parametrize("query,problem", MALFORMED)
@pytest.mark.parametrize("search", sorted(SEARCHES))
async def test_a_query_that_does_not_parse_names_its_problem_on_the_page(ds, search, query, problem):
    path, param = SEARCHES[search]
    response = await ds.client.get(path, params={param: query})
    assert response.status_code == 400
    assert str(escape(message(problem))) in response.text


async def test_search_all_names_the_problem(ds):
    response = await ds.client.get("/-/search", params={"q": "國安法 OR"})
    assert response.status_code == 400
    assert str(escape(message('"國安法 OR": OR needs a term after it'))) in response.text


@pytest.mark.parametrize("path", ["/news/articles.jsonl", "/news/articles.csv?_stream=on"])
async def test_downloads_of_a_query_that_does_not_parse_are_400s(ds, path):
    response = await ds.client.get(path, params={"_search": "國安法 OR"})
    assert response.status_code == 400
    assert "OR needs a term after it" in response.text


async def test_raw_search_mode_is_fts5s_own_syntax(ds):
    response = await ds.client.get(
        "/news/articles.json", params={"_search": '"天氣"', "_searchmode": "raw", "_shape": "array"}
    )
    assert response.status_code == 200


def test_every_canned_query_that_searches_is_checked():
    queries = yaml.safe_load((ROOT / "metadata.yml").read_text(encoding="utf-8"))["databases"]["news"]["queries"]
    searching = {
        name: re.findall(r"escape_fts\(:(\w+)\)", q.get("sql", ""))
        for name, q in queries.items()
        if "escape_fts" in q.get("sql", "")
    }
    assert searching == {name: [param] for name, param in SEARCH_QUERIES.items()}
    for name, param in SEARCH_QUERIES.items():
        assert check_sql(param) in queries[name]["sql"]


async def test_search_help_shows_an_example_of_each_operator(ds):
    response = await ds.client.get("/news/-/search-help")
    assert response.status_code == 200
    page = response.text
    assert "搜尋語法 Search help" in page
    for syntax in ["A B", "A OR B", "-A", "&#34;A B&#34;", "A NEAR/n B", "A NEAR B", "( )"]:
        assert f"<code>{syntax}</code>" in page
    links = re.findall(r'<a href="(/news/articles\?_search=[^"]+)">', page)
    assert len(links) == 7
    for link in links:
        response = await ds.client.get(link.replace("&amp;", "&"))
        assert response.status_code == 200


async def test_search_help_headings_are_in_chinese_and_english(ds):
    page = (await ds.client.get("/news/-/search-help")).text
    assert "<title>搜尋語法 Search help</title>" in page
    assert "<th>語法 Syntax</th><th>意思 Meaning</th><th>例子 Example</th>" in page


async def test_search_help_rules_are_titled_chinese_first(ds):
    page = (await ds.client.get("/news/-/search-help")).text
    titles = re.findall(r"<dt>([^<]+)</dt>", page)
    assert titles == [
        "中文 Chinese",
        "英文 English",
        "優先次序 Precedence",
        "運算符 Operators",
        "至少一個必須出現的詞 One term must occur",
    ]


@pytest.mark.parametrize("path", ["/news/articles", "/news/figures", "/news/-/trends", "/"])
async def test_every_search_box_links_the_help(ds, path):
    response = await ds.client.get(path)
    assert 'href="/news/-/search-help"' in response.text


async def test_the_canned_search_links_the_help(ds):
    response = await ds.client.get("/news/search")
    assert 'href="-/search-help"' in response.text
