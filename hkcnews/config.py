"""metadata.yml, the one source of the archive's configuration, in the form
the installed Datasette reads.

Datasette 0.65 reads everything from its metadata: titles, descriptions,
licence and source, table options (sort, facets, label column, page size)
and canned queries. The 1.0 alphas split that in two: metadata keeps what
describes the data, and table options and canned ("stored") queries are
configuration, ``datasette.yaml`` given with ``-c``. metadata.yml stays
written the 0.65 way, which reads best as documentation; ``split()`` makes
the 1.0 pair from it. ``python -m hkcnews.config DIR`` writes the files
the installed Datasette reads, for ``datasette serve`` or ``publish``.
"""

import copy
import sys
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from hkcnews.compat import DATASETTE_1, DATASETTE_VERSION
from hkcnews.months import ARTICLES_PER_MONTH_SQL

# The top-level metadata.yml: in a checkout hkcnews/metadata.yml links to
# it, and an installed package carries a copy (pyproject.toml).
METADATA = Path(__file__).resolve().parent / "metadata.yml"


# What Datasette 1.0 reads from configuration instead of metadata, for each
# table (the keys its own move_table_config moves, named here so that the
# split does not depend on which keys a given alpha still moves).
TABLE_OPTIONS = (
    "hidden",
    "sort",
    "sort_desc",
    "size",
    "sortable_columns",
    "label_column",
    "facets",
    "fts_table",
    "fts_pk",
    "searchmode",
)


def load(path=METADATA):
    """metadata.yml as a dict."""
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def split(metadata):
    """(metadata, configuration) for Datasette 1.0 from 0.65-style metadata:
    plugin settings, each database's canned queries and each table's
    options move to the configuration; the rest stays. The input is not changed."""
    metadata = copy.deepcopy(metadata)
    config = {}
    if "plugins" in metadata:
        config["plugins"] = metadata.pop("plugins")
    for name, database in (metadata.get("databases") or {}).items():
        moved = {}
        if "queries" in database:
            moved["queries"] = database.pop("queries")
        for table_name, table in (database.get("tables") or {}).items():
            options = {key: table.pop(key) for key in TABLE_OPTIONS if key in table}
            if options:
                moved.setdefault("tables", {})[table_name] = options
        if moved:
            config.setdefault("databases", {})[name] = moved
    return metadata, config


def with_query_sql(metadata):
    """The metadata with the SQL of the canned query ``articles_per_month``
    filled in from hkcnews/months.py, which metadata.yml leaves out (on 0.65
    the plugin's canned_queries hook gives it; 1.0 has no such hook)."""
    metadata = copy.deepcopy(metadata)
    for database in (metadata.get("databases") or {}).values():
        query = (database.get("queries") or {}).get("articles_per_month")
        if query is not None and "sql" not in query:
            query["sql"] = ARTICLES_PER_MONTH_SQL
    return metadata


def datasette_kwargs(metadata=None):
    """``Datasette(...)`` keyword arguments for metadata.yml (or metadata
    written as it is) on the installed Datasette: ``metadata``, and on 1.0
    ``config``; new dicts on every call."""
    metadata = load() if metadata is None else metadata
    if not DATASETTE_1:
        # A copy: Datasette 0.65 adds to the metadata it is given (the
        # canned queries of hooks, each query's name).
        return {"metadata": copy.deepcopy(metadata)}
    metadata, config = split(with_query_sql(metadata))
    return {"metadata": metadata, "config": config}


# The plugin's name in Datasette's plugin settings.
PLUGIN = "hkcnews"
# The folder a server's processes share their downloads in: the queue's
# turns and the downloads kept on disk (hkcnews/site/download_queue.py,
# kept_downloads.py); python -m hkcnews.serve makes it.
DOWNLOADS_VARIABLE = "HKCNEWS_DOWNLOADS"


def public_url_parts(public_url):
    """(scheme, host) of the plugin setting public_url (hkcnews/site/address.py);
    ValueError naming it when it is not an http:// or https:// address."""
    parts = urlsplit(public_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"public_url {public_url!r}: not an http:// or https:// address")
    return parts.scheme, parts.netloc


def with_public_url(metadata, public_url):
    """The metadata with the plugin setting public_url (hkcnews/site/address.py), when given."""
    if not public_url:
        return metadata
    plugins = dict(metadata.get("plugins") or {})
    plugins[PLUGIN] = {**(plugins.get(PLUGIN) or {}), "public_url": public_url}
    return {**metadata, "plugins": plugins}


class _Dumper(yaml.SafeDumper):
    pass


# SQL and HTML as blocks, as metadata.yml writes them, not one escaped line.
_Dumper.add_representer(
    str,
    lambda dumper, text: dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None),
)


def write(folder, prefix="", metadata=None):
    """Writes the files the installed Datasette reads into ``folder`` and
    returns their ``datasette serve`` options: ``-m metadata.yml``, and on
    1.0 ``-c datasette.yml`` (each name after ``prefix``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    kwargs = datasette_kwargs(metadata)
    options = []
    for option, key, name in (("-m", "metadata", "metadata.yml"), ("-c", "config", "datasette.yml")):
        if key in kwargs:
            target = folder / f"{prefix}{name}"
            text = yaml.dump(kwargs[key], Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100)
            target.write_text(text, encoding="utf-8")
            options += [option, str(target)]
    return options


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m hkcnews.config DIR", file=sys.stderr)
        return 2
    options = write(argv[0])
    print(f"Datasette {DATASETTE_VERSION}: datasette serve news.db {' '.join(options)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
