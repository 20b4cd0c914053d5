"""Is this one of our databases? Every hook of the plugin asks before it
changes anything, so a Datasette serving other files beside the archive
serves those as stock Datasette would."""

import sqlite3
import weakref
from pathlib import Path

from datasette.utils import tilde_decode

from hkcnews.terms import TERMS_SCHEME

# The one name of the articles table, which the build writes and every page reads.
ARTICLES = "articles"

_BUILT_BY_US = weakref.WeakKeyDictionary()


def built_by_this_bundle(conn):
    """Whether a connection's database was built by build_db.py with the
    index terms this code reads."""
    try:
        row = conn.execute("select value from build_info where key = 'terms_scheme'").fetchone()
    except sqlite3.Error:
        return False
    return row is not None and row[0] == TERMS_SCHEME


async def built_by_us(datasette, database):
    """built_by_this_bundle for a database Datasette serves, asked once per
    database: cell renderers and template hooks ask on every page."""
    db = datasette.get_database(database)
    if db not in _BUILT_BY_US:
        _BUILT_BY_US[db] = await db.execute_fn(built_by_this_bundle)
    return _BUILT_BY_US[db]


async def archive_in_path(datasette, path):
    """The database an ASGI path reads (/news/articles, /news.csv?sql=…,
    /news.db), if build_db.py made it; else None."""
    database = tilde_decode(path.lstrip("/").split("/")[0].split(".")[0])
    if database in datasette.databases and await built_by_us(datasette, database):
        return datasette.databases[database]
    return None


def not_an_archive(db):
    """Why ``db`` cannot be served as an archive, or None."""
    if not Path(db).is_file():
        return f"{db}: no such file"
    try:
        conn = sqlite3.connect(f"file:{Path(db).resolve()}?mode=ro", uri=True)
        try:
            built = built_by_this_bundle(conn)
        finally:
            conn.close()
    except sqlite3.Error as e:
        return f"{db}: not an SQLite database ({e})"
    if not built:
        return f"{db}: not an archive built by this version of build_db.py (python build_db.py --seeds DIR --db {db})"
    return None
