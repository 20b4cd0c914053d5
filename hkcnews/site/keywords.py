"""What sets a group of articles apart: /<database>/-/keywords?q=…&tags__arraycontains=…
lists the n-grams (and English words) that more of its articles use than
of the whole archive's, or of a second group given by the same filters
prefixed with ref_; .csv gives the list.

Keyness is Kilgarriff's "simple maths" over document frequencies:
(per million of the set + 1) / (per million of the reference + 1), with
Rayson's log-likelihood beside it. A set of more than MAX_ARTICLES is a
seeded random sample of that many (and the page says so).
"""

import csv
import io
import os
from collections import Counter
from urllib.parse import urlencode

import numpy as np
from datasette.utils.asgi import BadRequest, Response

from hkcnews.ngrams import MIN_DOCUMENTS, count, english_words
from hkcnews.site.collocates import archive_stats, log_likelihood, without_fragments
from hkcnews.site.concordance import int_arg
from hkcnews.site.matches import (
    archive_database,
    as_written,
    folded_texts,
    matching_ids,
    refused,
    sampled,
    selection,
    setting,
)

MAX_ARTICLES = 5_000
LIMIT = 100
COLUMNS = ("keyword", "documents", "archive_documents", "simple_maths", "log_likelihood")

# Per database file and process: the archive's counts, read once.
_ARCHIVE_COUNTS = {}


class Group:
    """A set of articles and the documents each n-gram and word occurs in."""

    def __init__(self, size, ngrams, words, texts=None, ids=None):
        self.size = size  # articles
        self.codes, self.documents = ngrams  # sorted codes, their document counts
        self.words = words  # Counter: word -> documents
        self.texts, self.ids = texts, ids

    def ngram_documents(self, codes):
        """The document count of each code (0 where this group has none)."""
        if not len(self.codes):
            return np.zeros(len(codes), dtype=np.int64)
        where = np.minimum(np.searchsorted(self.codes, codes), len(self.codes) - 1)
        return np.where(self.codes[where] == codes, self.documents[where], 0)


def group_of(conn, char_ids, ids):
    texts = [text for _, text in folded_texts(conn, ids)]
    codes, documents, _ = count(char_ids, texts)
    words = Counter()
    for text in texts:
        words.update(set(english_words(text)))
    return Group(len(ids), (codes, documents), words, texts, ids)


def archive_group(conn):
    """The whole archive as a Group, read once per database from the ngrams
    and words tables (the build counted them)."""
    path = conn.execute("pragma database_list").fetchone()[2]
    # A rebuilt file at the same path is another archive.
    key = (path, os.stat(path).st_mtime_ns) if path else None
    if key not in _ARCHIVE_COUNTS:
        rows = conn.execute("select code, documents from ngrams order by code").fetchall()
        codes = np.array([r[0] for r in rows], dtype=np.uint64)
        documents = np.array([r[1] for r in rows], dtype=np.int64)
        order = np.argsort(codes, kind="stable")
        words = Counter(dict(conn.execute("select word, documents from words")))
        size = conn.execute("select count(*) from article_texts").fetchone()[0]
        _ARCHIVE_COUNTS[key] = Group(size, (codes[order], documents[order]), words)
    return _ARCHIVE_COUNTS[key]


def simple_maths(documents, size, ref_documents, ref_size):
    return (documents / size * 1e6 + 1) / (ref_documents / ref_size * 1e6 + 1)


def keyness_ll(a, b, c, d):
    """Rayson and Garside's log-likelihood of a in c documents against b in d."""
    e1, e2 = c * (a + b) / (c + d), d * (a + b) / (c + d)
    return log_likelihood([(a, e1), (b, e2)])


def keywords(conn, sel, ref, seed=0, max_articles=MAX_ARTICLES):
    """(articles matched, articles read, reference size, [keyword rows])."""
    char_ids, _ = archive_stats(conn)
    ids = matching_ids(conn, sel)
    matched = len(ids)
    ids = sampled(ids, max_articles, seed)
    focus = group_of(conn, char_ids, ids)
    reference = (
        archive_group(conn)
        if ref.empty
        else group_of(conn, char_ids, sampled(matching_ids(conn, ref), max_articles, seed))
    )
    rows = []
    if focus.size and reference.size:
        enough = focus.documents >= MIN_DOCUMENTS
        codes, documents = focus.codes[enough], focus.documents[enough]
        ref_documents = reference.ngram_documents(codes)
        scores = simple_maths(documents, focus.size, ref_documents, reference.size)
        more = scores > 1
        for code, n, r, score in zip(codes[more], documents[more], ref_documents[more], scores[more], strict=True):
            rows.append(_row(char_ids.text_of(code), int(n), int(r), float(score), focus.size, reference.size))
        for word, n in focus.words.items():
            r = reference.words.get(word, 0)
            score = simple_maths(n, focus.size, r, reference.size)
            if n >= MIN_DOCUMENTS and score > 1:
                rows.append(_row(word, n, r, score, focus.size, reference.size))
    rows.sort(key=lambda r: (-r["simple_maths"], -r["documents"], r["keyword"]))
    documents = {r["keyword"]: r["documents"] for r in rows}
    kept = set(without_fragments([r["keyword"] for r in rows], documents))
    rows = [r for r in rows if r["keyword"] in kept][:LIMIT]
    _as_written(conn, focus, rows)
    return matched, focus.size, reference.size, rows


def _row(keyword, documents, ref_documents, score, size, ref_size):
    return {
        "keyword": keyword,
        "documents": documents,
        "archive_documents": ref_documents,
        "simple_maths": round(score, 3),
        "log_likelihood": round(keyness_ll(documents, ref_documents, size, ref_size), 3),
    }


def _as_written(conn, focus, rows):
    """Each row's n-gram as the first article of the set that uses it
    writes it (the counts are of the folded form, which may be simplified)."""
    places = {}
    for row in rows:
        if row["keyword"].isascii():
            continue  # an English word, case-folded
        for article_id, text in zip(focus.ids, focus.texts, strict=True):
            at = text.find(row["keyword"])
            if at >= 0:
                places[row["keyword"]] = (article_id, at, len(row["keyword"]))
                break
    written = as_written(conn, places)
    for row in rows:
        row["keyword"] = written.get(row["keyword"], row["keyword"])


def as_csv(rows):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore")  # CRLF, as Datasette's CSV
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


async def keywords_view(datasette, request):
    database, db = await archive_database(datasette, request)
    extension = request.url_vars.get("format") or ""
    try:
        sel = selection(request.args)
        ref = selection(request.args, "ref_")
        seed = int_arg(request.args, "seed", 0)
    except BadRequest as e:
        return refused(extension, str(e))
    if sel.empty and extension:
        return refused(extension, "give a search (q) or a filter, as ?tags__arraycontains=國安法")
    result = None
    if not sel.empty:
        max_articles = setting(datasette, "keywords_max_articles", MAX_ARTICLES)
        result = await db.execute_fn(lambda conn: keywords(conn, sel, ref, seed, max_articles))
    if extension == ".csv":
        return Response(as_csv(result[3]), content_type="text/csv; charset=utf-8")
    base = datasette.urls.database(database)
    both = sel.args() + ref.args()
    context = {
        "database": database,
        "sel": sel,
        "ref": ref,
        "seed": seed,
        "max_articles": setting(datasette, "keywords_max_articles", MAX_ARTICLES),
        "matched": result and result[0],
        "read": result and result[1],
        "ref_size": result and result[2],
        "rows": result[3] if result else [],
        "filters": sel.args() + ref.args(),
        "csv_url": f"{base}/-/keywords.csv?{urlencode(both)}",
        "search_url": f"{datasette.urls.table(database, 'articles')}?{urlencode(sel.table_args())}",
        "ref_url": f"{datasette.urls.table(database, 'articles')}?{urlencode(ref.table_args())}",
    }
    for row in context["rows"]:
        narrowed = [(n, v) for n, v in sel.args() if n != "q"] + [("q", row["keyword"])]
        row["concordance_url"] = f"{base}/-/concordance?{urlencode(narrowed)}"
    return Response.html(await datasette.render_template("hkc_keywords.html", context, request=request))
