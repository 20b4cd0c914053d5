"""What sets a group of articles apart: /<database>/-/keywords?q=…&tags__arraycontains=…
lists the n-grams (and English words) that more of its articles use than
of the whole archive's, or of a second group given by the same filters
prefixed with ref_; .csv gives the list.

Keyness is Kilgarriff's "simple maths" over document frequencies:
(per million of the set + 1) / (per million of the reference + 1), with
Rayson's log-likelihood beside it. A set of more than MAX_ARTICLES is a
seeded random sample of that many (and the page says so).
"""

from collections import Counter
from urllib.parse import urlencode

import numpy as np
from datasette.utils.asgi import BadRequest, Response

from hkcnews.ngrams import MIN_DOCUMENTS, NgramArrays, count, english_words
from hkcnews.site.archive_counts import archive_counts
from hkcnews.site.collocates import CANDIDATES, g_squared, without_fragments
from hkcnews.site.concordance import int_arg
from hkcnews.site.matches import (
    archive_database,
    as_csv,
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


class Group:
    """A set of articles: how many, and the documents each n-gram (an
    NgramArrays) and each English word occurs in."""

    def __init__(self, size, ngrams, words, texts=(), ids=()):
        self.size, self.ngrams, self.words = size, ngrams, words
        self.texts, self.ids = texts, ids


def group_of(conn, char_ids, ids):
    texts = [text for _, text in folded_texts(conn, ids)]
    words = Counter()
    for text in texts:
        words.update(set(english_words(text)))
    return Group(len(ids), NgramArrays(*count(char_ids, texts)), words, texts, ids)


def simple_maths(documents, size, ref_documents, ref_size):
    return (documents / size * 1e6 + 1) / (ref_documents / ref_size * 1e6 + 1)


def keyness_ll(a, b, c, d):
    """Rayson and Garside's log-likelihood of a in c documents against b in d."""
    e1, e2 = c * (a + b) / (c + d), d * (a + b) / (c + d)
    return g_squared([(a, e1), (b, e2)])


def keywords(conn, sel, ref, seed=0, max_articles=MAX_ARTICLES):
    """(articles matched, articles read, reference size, [keyword rows])."""
    char_ids, archive, _, archive_size, archive_words = archive_counts(conn)
    ids = matching_ids(conn, sel)
    matched = len(ids)
    focus = group_of(conn, char_ids, sampled(ids, max_articles, seed))
    if ref.empty:
        reference = Group(archive_size, archive, archive_words)
    else:
        reference = group_of(conn, char_ids, sampled(matching_ids(conn, ref), max_articles, seed))
    rows = []
    if focus.size and reference.size:
        enough = focus.ngrams["documents"] >= MIN_DOCUMENTS
        codes, documents = focus.ngrams["codes"][enough], focus.ngrams["documents"][enough]
        ref_documents = reference.ngrams.lookup(codes)
        scores = simple_maths(documents, focus.size, ref_documents, reference.size)
        more = np.flatnonzero(scores > 1)
        best = more[np.lexsort((-documents[more], -scores[more]))][:CANDIDATES]
        rows = [
            _row(char_ids.text_of(codes[i]), int(documents[i]), int(ref_documents[i]), focus.size, reference.size)
            for i in best
        ]
        for word, n in focus.words.items():
            r = reference.words.get(word, 0)
            if n >= MIN_DOCUMENTS and simple_maths(n, focus.size, r, reference.size) > 1:
                rows.append(_row(word, n, r, focus.size, reference.size))
    rows.sort(key=lambda r: (-r["simple_maths"], -r["documents"], r["keyword"]))
    documents = {r["keyword"]: r["documents"] for r in rows}
    kept = set(without_fragments([r["keyword"] for r in rows], documents))
    rows = [r for r in rows if r["keyword"] in kept][:LIMIT]
    _as_written(conn, focus, rows)
    return matched, focus.size, reference.size, rows


def _row(keyword, documents, ref_documents, size, ref_size):
    return {
        "keyword": keyword,
        "documents": documents,
        "archive_documents": ref_documents,
        "simple_maths": round(simple_maths(documents, size, ref_documents, ref_size), 3),
        "log_likelihood": round(float(keyness_ll(documents, ref_documents, size, ref_size)), 3),
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
        return Response(as_csv(result[3], COLUMNS), content_type="text/csv; charset=utf-8")
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
