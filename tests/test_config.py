"""metadata.yml, the one source of the configuration, in the form each
Datasette line reads (hkcnews/config.py)."""

import subprocess
import sys

import yaml
from datasette.app import Datasette

from hkcnews import compat, config
from hkcnews.months import ARTICLES_PER_MONTH_SQL

from .helpers import get_json, html_of

EXAMPLE = {
    "title": "Archive",
    "databases": {
        "news": {
            "description": "Articles.",
            "tables": {
                "articles": {
                    "description": "One row per article.",
                    "sort_desc": "date",
                    "size": 50,
                    "facets": ["category", {"array": "tags"}],
                    "columns": {"id": "The number."},
                },
                "tags": {"description": "Tags."},
            },
            "queries": {"tag_counts": {"title": "Tags", "sql": "select 1"}},
        }
    },
}


def test_split_moves_table_options_and_queries_to_the_configuration():
    assert config.split(EXAMPLE) == (
        {
            "title": "Archive",
            "databases": {
                "news": {
                    "description": "Articles.",
                    "tables": {
                        "articles": {"description": "One row per article.", "columns": {"id": "The number."}},
                        "tags": {"description": "Tags."},
                    },
                }
            },
        },
        {
            "databases": {
                "news": {
                    "queries": {"tag_counts": {"title": "Tags", "sql": "select 1"}},
                    "tables": {
                        "articles": {"sort_desc": "date", "size": 50, "facets": ["category", {"array": "tags"}]}
                    },
                }
            }
        },
    )
    assert EXAMPLE["databases"]["news"]["tables"]["articles"]["size"] == 50  # the input is left as it was


def test_articles_per_month_gets_its_sql_from_months():
    metadata = config.load()
    filled = config.with_query_sql(metadata)
    assert filled["databases"]["news"]["queries"]["articles_per_month"]["sql"] == ARTICLES_PER_MONTH_SQL
    assert "sql" not in metadata["databases"]["news"]["queries"]["articles_per_month"]


def test_command_writes_what_the_installed_datasette_reads(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "hkcnews.config", str(tmp_path / "conf")], capture_output=True, text=True, check=True
    )
    conf = tmp_path / "conf"
    options = f"-m {conf / 'metadata.yml'}" + (f" -c {conf / 'datasette.yml'}" if compat.DATASETTE_1 else "")
    assert result.stdout == f"Datasette {config.DATASETTE_VERSION}: datasette serve news.db {options}\n"
    assert sorted(p.name for p in conf.iterdir()) == sorted(options.replace(f"{conf}/", "").split()[1::2])


async def test_written_files_serve_the_archive_under_any_name(tmp_path, corpus_db):
    (tmp_path / "any.db").write_bytes(corpus_db.read_bytes())
    options = config.write(tmp_path / "conf")
    files = dict(zip(options[::2], options[1::2], strict=True))
    read = {"-m": "metadata", "-c": "config"}
    ds = Datasette(
        [str(tmp_path / "any.db")],
        **{read[option]: yaml.safe_load(open(path, encoding="utf-8")) for option, path in files.items()},
    )
    assert "Search articles, most relevant first" in await html_of(ds, "/")
    rows = await get_json(ds, "/any/articles_per_month.json", category="", _shape="array")
    assert sum(r["articles"] for r in rows) == 6
