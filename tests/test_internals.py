"""What the plugin relies on in Datasette beyond its documented plugin hooks
(hkcnews/internals.py), one test each, on whichever Datasette line is
installed: when a release changes one of them, its test here names it.
(The redirect of a capture's number, which reads the route too, is
tests/test_captures.py's test_a_repeats_number_redirects_to_its_article.)"""

import json
import re
import sys
from pathlib import Path
from urllib.parse import urlencode

import pytest
import sqlite_utils
from datasette.app import Datasette
from datasette.facets import ArrayFacet, ColumnFacet
from datasette.plugins import pm
from datasette.utils.asgi import Forbidden, Request

from hkcnews import compat, config, internals
from hkcnews.months import ARTICLES_PER_MONTH_SQL
from hkcnews.serve import SETTINGS, ensure_inspected
from hkcnews.serve.asgi import archive_datasette
from hkcnews.site.facets import ARCHIVE_FACETS, TagsFacet, YearsFromMonths
from hkcnews.site.template_data import ARTICLE_LIST_COLUMNS
from hkcnews.terms import fts_query

from .helpers import METADATA, datasette_for, html_of, private_archive, table_json


@pytest.fixture
def archive(archive_db):
    return datasette_for(archive_db)


async def test_datasettes_search_clause_is_the_one_the_plugin_rewrites(tmp_path):
    db = sqlite_utils.Database(tmp_path / "plain.db")
    db["notes"].insert({"id": 1, "text": "hello"}, pk="id")
    db["notes"].enable_fts(["text"])
    data = await table_json(datasette_for(tmp_path / "plain.db"), "/plain/notes.json", _search="hello")
    assert internals.STOCK_SEARCH_CLAUSE.format(fts="notes_fts") in data["query"]["sql"]


async def test_datasettes_column_search_clause_is_the_one_the_plugin_rewrites(tmp_path):
    db = sqlite_utils.Database(tmp_path / "plain.db")
    db["notes"].insert({"id": 1, "text": "hello"}, pk="id")
    db["notes"].enable_fts(["text"])
    data = await table_json(datasette_for(tmp_path / "plain.db"), "/plain/notes.json", _search_text="hello")
    clauses = [c.strip() for c in data["query"]["sql"].split("where", 1)[1].split("order by")[0].split(" and ")]
    (found,) = [m for m in map(internals.STOCK_COLUMN_SEARCH_CLAUSE.match, clauses) if m]
    assert (found["fts"], found["column"], found["n"]) == ("notes_fts", "text", "0")


async def test_archive_column_search_clause_is_rewritten(ds):
    data = await table_json(ds, "/news/articles.json", _search_title="港")
    assert "match search_column_fts(:search_0, 'title')" in data["query"]["sql"]
    assert "escape_fts" not in data["query"]["sql"]


async def test_archive_search_clause_is_rewritten(ds):
    data = await table_json(ds, "/news/articles.json", _search="港")
    assert "+" + internals.STOCK_SEARCH_CLAUSE.format(fts="articles_fts") in data["query"]["sql"]


def test_archive_facet_classes_replace_datasettes():
    registered = [cls for classes in pm.hook.register_facet_classes() for cls in classes]
    assert TagsFacet in registered and YearsFromMonths in registered
    assert not set(ARCHIVE_FACETS) & set(registered)


@pytest.mark.parametrize("stock", [ColumnFacet, ArrayFacet])
async def test_datasettes_facets_read_their_configurations_through_get_configs(ds, stock):
    # OwnCounts narrows a stock facet's configurations by overriding get_configs.
    class Nothing(stock):
        def get_configs(self):
            return []

    request = Request.fake(
        "/news/articles?_facet=category" if stock is ColumnFacet else "/news/articles?_facet_array=tags"
    )
    facet = Nothing(ds, request, "news", sql="select * from articles", table="articles")
    assert await facet.facet_results() == ([], [])


@pytest.mark.parametrize(
    "params", [{"_search": "台灣"}, {"category": "國際", "_facet_size": "1"}, {"author": "Staff Reporter"}]
)
async def test_a_column_facet_is_answered_with_counts_made_elsewhere(ds, params):
    # CountedColumn answers ColumnFacet.facet_results's one query: its
    # results are then Datasette's own, built from the counts given.
    await ds.invoke_startup()
    request = Request.fake(f"/news/articles?{urlencode({**params, '_facet': 'category'})}&_facet=author")
    sql = "select * from articles where " + ("rowid > 0" if "_search" in params else "category is not null")
    stock = ColumnFacet(ds, request, "news", sql=sql, table="articles")
    expected, timed_out = await stock.facet_results()
    assert timed_out == [] and [f["name"] for f in expected] == ["category", "author"]
    for facet_info in expected:
        column = facet_info["name"]
        everything = [
            tuple(row)
            for row in await ds.execute(
                "news", f"select {column}, count(*) as n from ({sql}) group by {column} order by n desc, {column}"
            )
        ]
        answered = ColumnFacet(ds, request, "news", sql=sql, table="articles")
        answered.ds = internals.CountedColumn(ds, column, everything)
        answered.get_configs = lambda column=column: [c for c in stock.get_configs() if c["config"]["simple"] == column]
        assert await answered.facet_results() == ([facet_info], [])
        assert answered.ds.answered == 1


async def test_a_query_run_with_datasettes_time_limit_is_interrupted(ds):
    from datasette.database import QueryInterrupted

    sql = "with recursive n(i) as (select 1 union all select i + 1 from n) select count(*) from n"

    def run(conn):
        with internals.time_limited(conn, 5, sql, {}):
            return conn.execute(sql).fetchall()

    with pytest.raises(QueryInterrupted):
        await ds.get_database("news").execute_fn(run)


async def test_escape_fts_of_an_archive_is_the_plugins(ds):
    result = await ds.execute("news", "select escape_fts(:q)", {"q": "天气 預報"})
    assert result.single_value() == fts_query("天气 預報")


async def test_article_page_reads_its_number_from_the_route(ds):
    assert '<article class="hkc-article">' in await html_of(ds, "/news/articles/39427")


async def test_table_template_cells_name_their_column(ds):
    # _table.html keeps the cells of display_rows whose "column" is listed.
    page = await html_of(ds, "/news/articles", _search="台灣")
    shown = re.findall(r'<td class="col-([a-z_]+)', page)
    # With the search's passage after the title (snippets.py).
    row = ["id", "title", "snippet", *ARTICLE_LIST_COLUMNS[2:]]
    assert shown == row * 3


async def test_home_page_partial_shows_each_archive(ds):
    page = await html_of(ds, "/")
    assert '<section class="hkc-archive">' in page and "Ready-made queries" in page


async def test_stored_queries_are_listed_in_the_order_configured(ds):
    await ds.invoke_startup()
    queries = await compat.stored_queries(ds, "news", None)
    assert [name for name, _, _ in queries] == list(METADATA["databases"]["news"]["queries"])
    assert queries[0][1] == METADATA["databases"]["news"]["queries"]["search"]["title"]


async def test_canned_query_sql_is_found_by_name(ds):
    await ds.invoke_startup()
    assert await compat.canned_query_sql(ds, "news", "articles_per_month") == ARTICLES_PER_MONTH_SQL
    assert await compat.canned_query_sql(ds, "news", "no_such_query") is None


async def test_any_name_is_described_as_the_archive(archive):
    await archive.invoke_startup()
    page = await html_of(archive, "/archive/articles")
    assert METADATA["databases"]["news"]["tables"]["articles"]["columns"]["capture_count"] in page
    assert (await archive.client.get("/archive/tag_counts.json")).status_code == 200


async def test_a_private_table_is_refused(corpus_db):
    ds = private_archive(corpus_db)
    await ds.invoke_startup()
    with pytest.raises(Forbidden):
        await compat.ensure_can_view_table(ds, None, "news", "articles")
    await compat.ensure_can_view_table(ds, {"id": "editor"}, "news", "articles")


async def test_served_datasette_has_the_settings_and_the_row_counts(corpus_db):
    ensure_inspected(corpus_db, str(Path(sys.executable).with_name("datasette")))
    ds = archive_datasette(corpus_db)
    settings = (await ds.client.get("/-/settings.json")).json()
    assert settings["sql_time_limit_ms"] == int(SETTINGS["sql_time_limit_ms"])
    assert settings["allow_csv_stream"] is True and settings["suggest_facets"] is False
    counts = json.loads(corpus_db.with_name("news.db.inspect.json").read_text())
    assert ds.inspect_data == counts
    assert ds.databases["news"].is_mutable is False


def private_table(db):
    """The archive with its figures table open only to the actor {"id": "editor"}."""
    news = METADATA["databases"]["news"]
    tables = {**news["tables"], "figures": {**news["tables"]["figures"], "allow": {"id": "editor"}}}
    return Datasette(
        [str(db)], **config.datasette_kwargs({**METADATA, "databases": {"news": {**news, "tables": tables}}})
    )


async def test_table_permissions_are_read_once_per_table(corpus_db):
    ds = datasette_for(corpus_db)
    await ds.invoke_startup()
    if compat.DATASETTE_1:  # 1.0 reads permissions without copying the metadata: nothing to keep
        assert not hasattr(ds, "_table_permission_allows")
        return
    ds._table_permission_allows("news", "articles")
    ds._table_permission_allows("news", "articles")
    assert ds._table_permission_allows.cache_info()[:2] == (1, 1)  # one read, one kept answer


async def test_a_kept_table_permission_still_refuses_a_table(corpus_db):
    ds = private_table(corpus_db)
    for _ in range(2):  # the second time from what is kept, on 0.65
        assert (await ds.client.get("/news/figures.json")).status_code == 403
        assert (await ds.client.get("/news/articles.json")).status_code == 200
