"""The archive's n-gram counts that the build stored (ngram_arrays,
build_info), read once per database file and process."""

import os

from hkcnews.ngrams import CHARACTERS_KEY, CHARS_KEY, CharIds, NgramArrays

_READ = {}


def archive_counts(conn):
    """(CharIds, NgramArrays, characters in all texts, articles, {word: documents})
    of the connection's database."""
    path = conn.execute("pragma database_list").fetchone()[2]
    # A file rebuilt at the same path is another archive.
    key = (path, os.stat(path).st_mtime_ns) if path else None
    if key not in _READ:
        info = dict(conn.execute("select key, value from build_info where key in (?, ?)", [CHARS_KEY, CHARACTERS_KEY]))
        # A piece a query: an answer may hold 24 million characters (limits.py).
        pieces = conn.execute("select name, piece from ngram_arrays order by name, piece").fetchall()
        arrays = NgramArrays.from_rows(
            (
                name,
                piece,
                conn.execute("select data from ngram_arrays where name = ? and piece = ?", [name, piece]).fetchone()[0],
            )
            for name, piece in pieces
        )
        words = dict(conn.execute("select word, documents from words"))
        articles = conn.execute("select count(*) from article_texts").fetchone()[0]
        _READ[key] = (CharIds(info[CHARS_KEY]), arrays, int(info[CHARACTERS_KEY]), articles, words)
    return _READ[key]
