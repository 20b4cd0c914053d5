"""What to read next: the articles that share the most tags and the most
distinctive character n-grams with an article, for its page.

An n-gram is distinctive when few articles of the archive hold it (the
build's counts, ngram_arrays); the article's rarest ones are looked up in
the full-text index, each a phrase query over a short posting list, so the
work is bounded by DISTINCTIVE lookups whatever the article's length.
"""

import math

import numpy as np

from hkcnews.ngrams import count
from hkcnews.ours import ARTICLES
from hkcnews.site.archive_counts import archive_counts
from hkcnews.terms import fts_query

LIMIT = 5
# The article's n-grams read from the index, rarest first.
DISTINCTIVE = 12
# An n-gram in more articles than this says little about this one.
MAX_DOCUMENTS = 200
# A tag on more articles than this (眾聞, 香港) says little too.
MAX_TAG_ARTICLES = 2000
# Tags an article shares count as much as this many distinctive n-grams.
TAG_WEIGHT = 2.0


def distinctive_ngrams(conn, folded):
    """The article's n-grams that fewest articles of the archive hold (at
    least 2: another article must share it), the longest first among equals."""
    char_ids, archive, _, _, _ = archive_counts(conn)
    codes, _, _ = count(char_ids, [folded])
    documents = archive.lookup(codes)
    useful = (documents >= 2) & (documents <= MAX_DOCUMENTS)
    codes, documents = codes[useful], documents[useful]
    # A longer code is a longer n-gram: rarest first, then the longer.
    order = np.lexsort((-codes.astype(np.float64), documents))
    chosen, texts = [], []
    for i in order:
        text = char_ids.text_of(codes[i])
        if any(_overlap(text, other) for other in texts):
            continue  # a part of a phrase already chosen finds the same articles
        chosen.append((text, int(documents[i])))
        texts.append(text)
        if len(chosen) == DISTINCTIVE:
            break
    return chosen


def _overlap(a, b):
    """Whether two n-grams are in one another or run on one from the other."""
    return a in b or b in a or a[1:] in b or a[:-1] in b or b[1:] in a or b[:-1] in a


def related(conn, article_id):
    """Up to LIMIT articles like ``article_id``: [{"id", "title", "date", "tags", "ngrams"}]."""
    row = conn.execute(f"select title, date from [{ARTICLES}] where id = ?", [article_id]).fetchone()
    text = conn.execute("select folded from article_texts where article_id = ?", [article_id]).fetchone()
    if row is None or text is None:
        return []
    title, date = row
    # Plain tuples: the hundreds of rows of the articles that share a tag
    # are the plugin's own query, outside a visitor's result budget (limits.py).
    cursor = conn.cursor()
    cursor.row_factory = None
    score, shared_tags, shared_ngrams = {}, {}, {}
    for other, tags in cursor.execute(
        "select b.article_id, count(*) from article_tags a join article_tags b on b.tag_id = a.tag_id "
        "join tags on tags.id = a.tag_id "
        "where a.article_id = ? and b.article_id != ? and tags.article_count <= ? group by b.article_id",
        [article_id, article_id, MAX_TAG_ARTICLES],
    ):
        shared_tags[other] = tags
        score[other] = TAG_WEIGHT * tags
    total = conn.execute("select count(*) from article_texts").fetchone()[0]
    for ngram, documents in distinctive_ngrams(conn, text[0]):
        weight = math.log(total / documents)
        for (other,) in cursor.execute(
            f"select rowid from {ARTICLES}_fts where {ARTICLES}_fts match ? and rowid != ?",
            [fts_query(ngram), article_id],
        ):
            shared_ngrams.setdefault(other, []).append(ngram)
            score[other] = score.get(other, 0) + weight
    best = sorted(score, key=lambda other: (-score[other], -other))[: LIMIT * 4]
    if not best:
        return []
    rows = conn.execute(
        f"select id, title, date from [{ARTICLES}] where id in ({', '.join('?' * len(best))})", best
    ).fetchall()
    found = {r[0]: r for r in rows}
    out = []
    for other in best:
        other_id, other_title, other_date = found[other]
        # The same article captured under another number: not something else to read.
        if other_title == title and other_date == date:
            continue
        out.append(
            {
                "id": other_id,
                "title": other_title,
                "date": other_date,
                "shared_tags": shared_tags.get(other, 0),
                "shared_ngrams": shared_ngrams.get(other, []),
            }
        )
        if len(out) == LIMIT:
            break
    return out
