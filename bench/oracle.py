"""Measure the site's search against the oracle, on real queries of every form.

    python bench/oracle.py --db /tmp/oracle/news.db [--seed 0] [--per-form 40] [--json out.json]

Draws queries from the database's own text (seeded: the same queries on
every run of the same file), one set per form of the query language: single
Chinese words of 1, 2, 3 and 4-6 characters, their simplified-script
spellings (OpenCC t2s), English words in any case, quoted English phrases,
and ``A B``, ``A OR B``, ``A -B``, ``A NEAR/5 B``, ``A NEAR B``,
``(A OR B) C``, ``A -(B OR C)`` made of such words. Each form's queries are
spread over counts of 1, 2-9, 10-99 and 100 or more articles (and a few of
0 for the forms that combine words), as far as the text has them.

For each query it compares three sets of article ids:

- the site's: the real Datasette app with the plugin (as the tests build it),
  the articles table's JSON ``/news/articles.json?_search=…`` read page by page
  (``_col=id&_size=max``, following ``next``); its count is checked too, and
  the canned search ``/news/search.json?q=…`` (its 100 best) against the rest;
- the oracle's: ``hkcnews.terms.article_matches`` on every article, with its
  figures' [caption, credit, alt] in position order, as the site's exact check
  reads them;
- a plain substring oracle written here, independent of hkcnews.terms but for
  its ``fold`` and ``article_text``: each article's title and its visible text
  (``article_text``: body without the repeated headline, then its figures'
  captions, credits and alt texts), folded, and the query evaluated on them
  with ``in`` for Chinese, whole-word regexes for Latin words, NEAR/n as at
  most n characters between, in either order, within one of the two.

Prints a table per form (queries, queries whose id sets agree exactly, total
matches, the median and p95 of the table page's time) and then every
disagreement with the article ids that differ and a few characters around
the term in each. The time is that of ``/news/articles.json?_search=…`` as a
reader gets it (50 rows, the count, the facets), the first request for that
query, in-process through ``datasette.client``. Run by hand; nothing here is
a test.
"""

import argparse
import asyncio
import bisect
import json
import platform
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

import opencc
from datasette.app import Datasette

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from hkcnews import config  # noqa: E402
from hkcnews.terms import (  # noqa: E402
    article_matches,
    article_text,
    fold,
    parse_query,
    searched_body,
    visible_text,
    without_headline,
)

# The figures of an article as the site's exact check reads them (terms.check_sql).
FIGURES_JSON = (
    "(select json_group_array(json_array(caption, credit, alt)) from "
    "(select caption, credit, alt from figures where figures.article_id = articles.id order by position))"
)

# Letters written without spaces between words: Chinese (and kana, hangul),
# searched as substrings. Everything else that is a letter or digit is Latin.
CJK = (
    "[\u3041-\u3096\u309d-\u309f\u30a1-\u30fa\u30fc-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f]"
)
LATIN = f"(?:(?!{CJK})[^\\W_])"
_CJK_RUN = re.compile(f"{CJK}+")
_PIECE = re.compile(f"{CJK}+|{LATIN}+")
_ENGLISH_WORD = re.compile(f"(?<!{LATIN})[A-Za-z]{{2,}}(?!{LATIN})")
_ENGLISH_PHRASE = re.compile(f"(?<!{LATIN})[A-Za-z]{{2,}}(?: [A-Za-z]{{2,}}){{1,2}}(?!{LATIN})")
# What the query language reads as operators: never a bare word of a query.
OPERATOR_WORDS = {"or", "and", "not", "near"}

FORMS = [
    "Chinese, 1 character",
    "Chinese, 2 characters",
    "Chinese, 3 characters",
    "Chinese, 4-6 characters",
    "simplified script",
    "English word",
    '"English phrase"',
    "A B",
    "A OR B",
    "A -B",
    "A NEAR/5 B",
    "A NEAR B",
    "(A OR B) C",
    "A -(B OR C)",
]
# Counts of articles each form's queries are spread over.
BUCKETS = [(1, 1), (2, 9), (10, 99), (100, 10**9)]
ZERO = (0, 0)
ATTEMPTS = 4000  # candidate queries drawn per form at most


# ---------------------------------------------------------------------------
# The substring oracle: a query as a tree, evaluated on folded text.
#
#     ("term", text, quoted)  ("and", [node, …])  ("or", [node, …])
#     ("not", node)           ("near", a, b, n, bare)


def render(node, top=True):
    """The query a reader would type for a tree."""
    kind = node[0]
    if kind == "term":
        return f'"{node[1]}"' if node[2] else node[1]
    if kind == "near":
        return f"{render(node[1])} {'NEAR' if node[4] else f'NEAR/{node[3]}'} {render(node[2])}"
    if kind == "not":
        inner = node[1]
        return "-" + (render(inner) if inner[0] == "term" else f"({render(inner, False)})")
    if kind == "and":
        return " ".join(f"({render(c, False)})" if c[0] == "or" else render(c, False) for c in node[1])
    return " OR ".join(render(c, False) for c in node[1])


def as_parsed(node):
    """The tree as hkcnews.terms.parse_query should give it for render(node):
    a check that the query says what the script means."""
    kind = node[0]
    if kind == "term":
        return ("term", fold(node[1]).strip())
    if kind == "near":
        return ("near", [fold(node[1][1]), fold(node[2][1])], [node[3]])
    if kind == "not":
        return ("not", as_parsed(node[1]))
    return (kind, [as_parsed(c) for c in node[1]])


class Term:
    """Where one term occurs in folded text: a run of Chinese characters
    anywhere; a Latin word whole (not inside a longer word), in any case;
    a term of several pieces with only spaces and punctuation between."""

    def __init__(self, text):
        folded = fold(text)
        self.pieces = _PIECE.findall(folded)
        self.plain = self.pieces[0] if len(self.pieces) == 1 and _CJK_RUN.fullmatch(self.pieces[0]) else None
        parts = []
        for i, piece in enumerate(self.pieces):
            if _CJK_RUN.fullmatch(piece):
                part = re.escape(piece)
                if i > 0:
                    part = f"(?<!{CJK})" + part
                if i < len(self.pieces) - 1:
                    part += f"(?!{CJK})"
            else:
                # Not inside a longer word; the look behind after the first
                # letter, so that the search runs from a letter, not at every place.
                part = f"{re.escape(piece[0])}(?<!{LATIN}.){re.escape(piece[1:])}(?!{LATIN})"
            parts.append(part)
        source = r"[\W_]*".join(parts)
        self.regex = re.compile(source, re.I)
        # Overlapping occurrences, for NEAR.
        self.overlapping = re.compile(f"(?=({source}))", re.I)
        # A quick test first: each piece must be in the text, in lower case.
        self.lower = [piece.lower() for piece in self.pieces]

    def spans(self, text):
        if self.plain is not None:
            found, at = [], text.find(self.plain)
            while at >= 0:
                found.append((at, at + len(self.plain)))
                at = text.find(self.plain, at + 1)
            return found
        if not self.maybe(text.lower()):
            return []
        return [m.span(1) for m in self.overlapping.finditer(text)]

    def maybe(self, lower):
        return all(piece in lower for piece in self.lower)

    def occurs(self, text, lower=None):
        if self.plain is not None:
            return self.plain in text
        if not self.maybe(text.lower() if lower is None else lower):
            return False
        return self.regex.search(text) is not None


_TERMS = {}


def term(text):
    if text not in _TERMS:
        _TERMS[text] = Term(text)
    return _TERMS[text]


def close(a_spans, b_spans, n):
    """Whether an A and a B have at most n characters between them (or overlap)."""
    starts = [b0 for b0, _ in b_spans]
    longest = max(b1 - b0 for b0, b1 in b_spans)
    for a0, a1 in a_spans:
        lo = bisect.bisect_left(starts, a0 - n - longest)
        hi = bisect.bisect_right(starts, a1 + n)
        for b0, b1 in b_spans[lo:hi]:
            if max(b0 - a1, a0 - b1) <= n:
                return True
    return False


def holds(node, fields, lowered=None):
    """Whether folded ``fields`` (title, text) satisfy the tree; ``lowered``:
    the same in lower case, for Term's quick test."""
    if lowered is None:
        lowered = tuple(f.lower() for f in fields)
    kind = node[0]
    if kind == "term":
        t = term(node[1])
        return any(t.occurs(f, low) for f, low in zip(fields, lowered, strict=True))
    if kind == "near":
        a, b = term(node[1][1]), term(node[2][1])
        for f in fields:
            a_spans = a.spans(f)
            if a_spans:
                b_spans = b.spans(f)
                if b_spans and close(a_spans, b_spans, node[3]):
                    return True
        return False
    if kind == "and":
        return all(holds(c, fields, lowered) for c in node[1])
    if kind == "or":
        return any(holds(c, fields, lowered) for c in node[1])
    return not holds(node[1], fields, lowered)


def positive_terms(node):
    kind = node[0]
    if kind == "term":
        return [node[1]]
    if kind == "near":
        return [node[1][1], node[2][1]]
    if kind in ("and", "or"):
        return [t for c in node[1] for t in positive_terms(c)]
    return []


# ---------------------------------------------------------------------------
# The sample.


class Article:
    def __init__(self, article_id, title, body, figures, figures_json):
        self.id = article_id
        self.title = title or ""
        self.body = body or ""
        self.figures = figures
        self.figures_json = figures_json
        # What a reader sees, per field; as drawn from and as searched.
        self.raw = (article_text(self.title, "", []), article_text("", self.body, figures))
        self.fields = tuple(fold(f) for f in self.raw)
        self.lowered = tuple(f.lower() for f in self.fields)
        self.english = [m.group() for f in self.raw for m in _ENGLISH_WORD.finditer(f)]

    def terms_fields(self, headline=True):
        """The two texts hkcnews.terms reads (its title; the visible text of the
        whole body with its figures, not collapsed), folded: to tell whose
        text makes a difference."""
        body = self.body if headline else without_headline(self.body)
        return (fold(self.title), fold(searched_body(visible_text(body), self.figures)))

    def terms_raw(self):
        """terms_fields, not folded."""
        return (self.title, searched_body(visible_text(self.body), self.figures))

    def full_text(self):
        return article_text(self.title, self.body, self.figures)


def load(db):
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        figures = {}
        for article_id, caption, credit, alt in conn.execute(
            "select article_id, caption, credit, alt from figures order by article_id, position"
        ):
            figures.setdefault(article_id, []).append((caption, credit, alt))
        rows = conn.execute(f"select id, title, body, {FIGURES_JSON} from articles order by id").fetchall()
    finally:
        conn.close()
    return [Article(i, t, b, figures.get(i, []), fj) for i, t, b, fj in rows]


# ---------------------------------------------------------------------------
# Drawing queries.


class Drawer:
    def __init__(self, articles, rng):
        self.articles = [a for a in articles if a.fields[0] or a.fields[1]]
        self.with_english = [a for a in self.articles if a.english]
        self.rng = rng
        self.t2s = opencc.OpenCC("t2s")
        self.common = []  # two-character words in many articles, for the forms that combine words
        self.notes = []
        self.sources = {}  # simplified spelling: the traditional word of the text it was drawn from

    def article(self):
        return self.rng.choice(self.articles)

    def field(self, article):
        """Text of a reader's title or body to draw from (the body more often)."""
        raw = article.raw
        if not raw[1] or (raw[0] and self.rng.random() < 0.2):
            return raw[0]
        return raw[1]

    def chinese(self, length, article=None):
        article = article or self.article()
        text = self.field(article)
        runs = [m.group() for m in _CJK_RUN.finditer(text) if len(m.group()) >= length]
        if not runs:
            return None
        run = self.rng.choice(runs)
        start = self.rng.randrange(len(run) - length + 1)
        return run[start : start + length]

    def simplified(self, article=None):
        for _ in range(20):
            word = self.chinese(self.rng.choice((2, 2, 3, 4)), article)
            if word and fold(word) != word:
                converted = self.t2s.convert(word)
                if converted != word:
                    self.sources.setdefault(converted, word)
                    if fold(converted) != fold(word):
                        self.notes.append(
                            f"OpenCC t2s spells {word} as {converted}, which folds to {fold(converted)}, "
                            f"not {fold(word)}"
                        )
                    return converted
        return None

    def english(self, article=None):
        if article is None or not article.english:
            article = self.rng.choice(self.with_english)
        word = self.rng.choice(article.english)
        if word.lower() in OPERATOR_WORDS:
            return None
        r = self.rng.random()
        return word.lower() if r < 0.25 else word.upper() if r < 0.4 else word

    def phrase(self):
        article = self.rng.choice(self.with_english)
        found = [m.group() for f in article.raw for m in _ENGLISH_PHRASE.finditer(f)]
        if not found:
            return None
        words = self.rng.choice(found).split()
        start = self.rng.randrange(len(words) - 1)
        words = words[start : start + self.rng.choice((2, 3))]
        return " ".join(words).lower() if self.rng.random() < 0.3 else " ".join(words)

    def word(self, article=None):
        """A term for a query that combines words: mostly Chinese of 2-4
        characters from ``article``, some English, some simplified, some common."""
        r = self.rng.random()
        if self.common and r < 0.25:
            return self.rng.choice(self.common)
        if r < 0.35:
            return self.english(article)
        if r < 0.45:
            return self.simplified(article)
        return self.chinese(self.rng.choice((2, 2, 2, 3, 4)), article)

    def near_pair(self, n):
        """Two words of one field of one article, a gap of 0 to n + 5
        characters between them; in either order."""
        article = self.article()
        text = self.field(article)
        if len(text) < 4:
            return None
        p = self.rng.randrange(len(text))
        m = _ENGLISH_WORD.match(text, p) if self.rng.random() < 0.15 else None
        if m and m.start() == p and (p == 0 or not re.match(LATIN, text[p - 1])):
            a = m.group()
        else:
            a = text[p : p + self.rng.choice((2, 2, 3))]
            if not _CJK_RUN.fullmatch(a):
                return None
        q = p + len(a) + self.rng.randint(0, n + 5)
        if q >= len(text):
            return None
        m = _ENGLISH_WORD.match(text, q)
        if m and not re.match(LATIN, text[q - 1]):
            b = m.group()
        else:
            b = text[q : q + self.rng.choice((2, 2, 3))]
            if not _CJK_RUN.fullmatch(b):
                return None
        if fold(a).lower() == fold(b).lower() or {a.lower(), b.lower()} & OPERATOR_WORDS:
            return None
        return (a, b) if self.rng.random() < 0.5 else (b, a)

    def containing(self, word):
        """An article whose text holds ``word`` (for a -B that takes some away)."""
        t = term(word)
        found = [a for a in self.articles if any(map(t.occurs, a.fields, a.lowered))]
        return self.rng.choice(found) if found else None

    def draw(self, form):
        """One query tree of ``form``, or None."""
        rng = self.rng

        def leaf(text):
            return ("term", text, False) if text else None

        if form == "Chinese, 1 character":
            return leaf(self.chinese(1))
        if form == "Chinese, 2 characters":
            return leaf(self.chinese(2))
        if form == "Chinese, 3 characters":
            return leaf(self.chinese(3))
        if form == "Chinese, 4-6 characters":
            return leaf(self.chinese(rng.choice((4, 5, 6))))
        if form == "simplified script":
            return leaf(self.simplified())
        if form == "English word":
            return leaf(self.english())
        if form == '"English phrase"':
            phrase = self.phrase()
            return ("term", phrase, True) if phrase else None
        if form in ("A NEAR/5 B", "A NEAR B"):
            bare = form == "A NEAR B"
            n = 10 if bare else 5
            pair = self.near_pair(n)
            if not pair:
                return None
            return ("near", leaf(pair[0]), leaf(pair[1]), n, bare)
        x = self.article()
        if form == "A B":
            a = self.word(x)
            b = self.word(x if rng.random() < 0.8 else None)
            parts = [leaf(a), leaf(b)]
            node = ("and", parts)
        elif form == "A OR B":
            node = ("or", [leaf(self.word(x)), leaf(self.word())])
        elif form == "A -B":
            a = self.word(x)
            y = self.containing(a) if a else None
            node = ("and", [leaf(a), ("not", leaf(self.word(y)))])
        elif form == "(A OR B) C":
            node = ("and", [("or", [leaf(self.word(x)), leaf(self.word())]), leaf(self.word(x))])
        elif form == "A -(B OR C)":
            a = self.word(x)
            y, z = (self.containing(a), self.containing(a)) if a else (None, None)
            node = ("and", [leaf(a), ("not", ("or", [leaf(self.word(y)), leaf(self.word(z))]))])
        else:
            raise ValueError(form)
        leaves = _leaves(node)
        if any(v is None for v in leaves):
            return None
        words = [fold(v[1]).lower() for v in leaves]
        if len(set(words)) < len(words) or set(words) & OPERATOR_WORDS:
            return None
        return node


def _leaves(node):
    if node is None or node[0] == "term":
        return [node]
    if node[0] == "near":
        return [node[1], node[2]]
    if node[0] == "not":
        return _leaves(node[1])
    return [v for c in node[1] for v in _leaves(c)]


def substring_ids(articles, node):
    return {a.id for a in articles if holds(node, a.fields, a.lowered)}


def draw_queries(articles, form, count, rng, drawer):
    """``count`` queries of ``form``, spread over the buckets of counts."""
    buckets = BUCKETS if form.startswith(("Chinese", "simplified", "English", '"')) else [ZERO, *BUCKETS]
    quota = {b: count // len(buckets) for b in buckets}
    for b in buckets[: count - sum(quota.values())]:
        quota[b] += 1
    if ZERO in quota and len(buckets) > 1:
        # A few that match nothing; the rest where there is something to find.
        spare = quota[ZERO] - max(1, count // 10)
        quota[ZERO] -= spare
        for b in BUCKETS[:spare]:
            quota[b] += 1
    chosen = {b: [] for b in buckets}
    extra = []
    seen = set()
    for _ in range(ATTEMPTS):
        if all(len(chosen[b]) >= quota[b] for b in buckets):
            break
        node = drawer.draw(form)
        if node is None:
            continue
        query = render(node)
        if query in seen:
            continue
        seen.add(query)
        found = substring_ids(articles, node)
        bucket = next((b for b in buckets if b[0] <= len(found) <= b[1]), None)
        if bucket is None:
            continue
        if len(chosen[bucket]) < quota[bucket]:
            chosen[bucket].append((node, found))
        elif len(extra) < count:
            extra.append((node, found))
    picked = [q for b in buckets for q in chosen[b]]
    # Where a bucket could not be filled, others make up the number.
    picked += extra[: count - len(picked)]
    return picked


# ---------------------------------------------------------------------------
# The site.


async def site_ids(ds, query):
    """(ids the table page lists, its count, seconds of its first page)."""
    start = time.perf_counter()
    response = await ds.client.get("/news/articles.json", params={"_search": query})
    seconds = time.perf_counter() - start
    if response.status_code != 200:
        raise RuntimeError(f"{query!r}: {response.status_code} {response.text[:300]}")
    data = response.json()
    count = data.get("filtered_table_rows_count", data.get("count"))
    ids, after = [], None
    while True:
        params = {"_search": query, "_col": "id", "_size": "max", "_nocount": "1", "_nofacet": "1"}
        if after:
            params["_next"] = after
        response = await ds.client.get("/news/articles.json", params=params)
        if response.status_code != 200:
            raise RuntimeError(f"{query!r}: {response.status_code} {response.text[:300]}")
        page = response.json()
        column = page["columns"].index("id")
        ids += [row[column] for row in page["rows"]]
        after = page.get("next")
        if not after:
            break
    return ids, count, seconds


async def canned_ids(ds, query):
    response = await ds.client.get("/news/search.json", params={"q": query, "_shape": "array"})
    if response.status_code != 200:
        raise RuntimeError(f"canned {query!r}: {response.status_code} {response.text[:300]}")
    return [row["id"] for row in response.json()]


# ---------------------------------------------------------------------------
# Reporting.


def context(article, node, width=12):
    """A few characters around each positive term in the article's visible text."""
    text = article.full_text()
    folded = fold(text)
    out = []
    for word in positive_terms(node):
        spans = term(word).spans(folded)
        if not spans:
            out.append(f"{word}: not in its visible text")
            continue
        a, b = spans[0]
        snippet = text[max(0, a - width) : b + width].replace("\n", " ")
        more = f" (+{len(spans) - 1} more)" if len(spans) > 1 else ""
        out.append(f"{word}: …{snippet}…{more}")
    return "; ".join(out)


def shown(text):
    return text.replace("\n", "⏎")


def near_context(article, node):
    """The closest A and B in each reading of a NEAR's article: the substring
    oracle's text and hkcnews.terms's, with the characters between counted."""
    n = node[3]
    out = []
    for name, fields, raw in (
        ("visible text", article.fields, article.raw),
        ("hkcnews.terms's text", article.terms_fields(), article.terms_raw()),
    ):
        best = None
        for field, original in zip(fields, raw, strict=True):
            a_spans, b_spans = term(node[1][1]).spans(field), term(node[2][1]).spans(field)
            for a0, a1 in a_spans:
                for b0, b1 in b_spans:
                    gap = max(b0 - a1, a0 - b1)
                    if best is None or gap < best[0]:
                        best = (gap, shown(original[min(a0, b0) : max(a1, b1)]))
        if best:
            out.append(f"{name}: {best[0]} between in 「{best[1]}」" + (" (too far)" if best[0] > n else ""))
        else:
            out.append(f"{name}: not both")
    return "; ".join(out)


def why_oracles_differ(article, node, terms_says):
    """Whose text makes the difference where hkcnews.terms and the substring oracle disagree."""
    if holds(node, article.terms_fields()) != terms_says:
        return "the evaluation (same text, different answer)"
    if holds(node, article.terms_fields(headline=False)) != terms_says:
        return "the headline: hkcnews.terms reads the body with the headline it repeats"
    return (
        "the text between: hkcnews.terms counts it as visible_text leaves it (line breaks, the spaces where "
        "tags stood, Markdown marks); article_text makes each run of them one space"
    )


_CONTROL_BETWEEN = re.compile(f"{CJK}[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+{CJK}")


async def readings(articles, ds, words=6):
    """Where another reading of "the visible text" would count otherwise,
    on the whole sample (not only the queries drawn): OpenCC's conversion
    of whole phrases against the per-character fold, and control
    characters between two Chinese characters (invisible to a reader, a
    space to the index). Lines to print, and the same as data."""
    t2s = opencc.OpenCC("t2s")
    chars, bigrams, places = {}, {}, 0
    converted = {}
    for a in articles:
        converted[a.id] = tuple(t2s.convert(f) for f in a.raw)
        for raw, conv in zip(a.raw, converted[a.id], strict=True):
            if len(conv) != len(raw):
                continue
            folded = fold(raw)
            for i, (c, f) in enumerate(zip(conv, folded, strict=True)):
                if c != f and _CJK_RUN.fullmatch(c):
                    places += 1
                    key = (raw[i], f, c)
                    chars[key] = chars.get(key, 0) + 1
                    for j in (i - 1, i):
                        word = conv[j : j + 2] if j >= 0 else ""
                        if len(word) == 2 and _CJK_RUN.fullmatch(word):
                            bigrams.setdefault(word, set()).add(a.id)
    lines = [
        f"OpenCC t2s of whole phrases and hkcnews.terms.fold differ at {places:,} Chinese characters of the sample: "
        + ", ".join(f"{t}→{f} (OpenCC {c}) {n}" for (t, f, c), n in sorted(chars.items(), key=lambda x: -x[1])[:8])
    ]
    data = {"opencc_places": places, "opencc_words": []}
    for word in sorted(bigrams, key=lambda w: -len(bigrams[w]))[:words]:
        ids, count, _ = await site_ids(ds, word)
        opencc_ids = {a.id for a in articles if any(word in f for f in converted[a.id])}
        lines.append(
            f"  {word}: the site finds {count} articles; {len(opencc_ids)} hold it once converted by OpenCC "
            f"({len(opencc_ids - set(ids))} of them not found)"
        )
        data["opencc_words"].append({"query": word, "site": count, "opencc": len(opencc_ids)})
    control = {}
    for a in articles:
        texts = [a.title, visible_text(without_headline(a.body))] + [" ".join(filter(None, f)) for f in a.figures]
        for text in texts:
            for m in _CONTROL_BETWEEN.finditer(text):
                control.setdefault(a.id, []).append(repr(m.group()))
    lines.append(
        f"control characters between two Chinese characters: {sum(map(len, control.values()))} places in "
        f"{len(control)} articles: " + ", ".join(f"{i} {' '.join(found)}" for i, found in sorted(control.items()))
    )
    data["control"] = control
    return lines, data


def percentile(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * p
    lo = int(k)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def git_state():
    try:
        head = subprocess.run(
            ["git", "-C", str(HERE.parent), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(HERE.parent), "status", "--porcelain", "--", "hkcnews", "metadata.yml"],
            capture_output=True,
            text=True,
        ).stdout.split("\n")
        return head, [line[3:] for line in dirty if line.strip()]
    except OSError:
        return "", []


async def run(args):
    # The code as imported: the state of the checkout now, not at the end.
    head, dirty = git_state()
    rng = random.Random(args.seed)
    started = time.perf_counter()
    articles = load(args.db)
    by_id = {a.id: a for a in articles}
    drawer = Drawer(articles, rng)
    # Common two-character words, for the forms that combine words to reach hundreds.
    for _ in range(600):
        word = drawer.chinese(2)
        if word and len(substring_ids(articles, ("term", word, False))) >= 80:
            drawer.common.append(word)
    drawer.common = sorted(set(drawer.common))
    ds = Datasette([str(args.db)], **config.datasette_kwargs(config.load()))
    results = []
    for form in FORMS:
        clock = time.perf_counter()
        picked = draw_queries(articles, form, args.per_form, rng, drawer)
        drawn = time.perf_counter() - clock
        for node, substring in picked:
            query = render(node)
            parsed = parse_query(query)
            if parsed != as_parsed(node):
                raise RuntimeError(f"{query!r} parses as {parsed}, meant {as_parsed(node)}")
            oracle = {a.id for a in articles if article_matches(query, a.title, a.body, a.figures_json)}
            ids, count, seconds = await site_ids(ds, query)
            canned = await canned_ids(ds, query)
            site = set(ids)
            result = {
                "form": form,
                "query": query,
                "site": len(site),
                "site_count": count,
                "oracle": len(oracle),
                "substring": len(substring),
                "ms": round(seconds * 1000, 1),
                "site_agrees": site == oracle and count == len(site) and len(ids) == len(site),
                "oracles_agree": oracle == substring,
                "canned_agrees": (set(canned) == oracle) if len(oracle) <= 100 else (len(canned) == 100),
                "canned": len(canned),
                "site_only": sorted(site - oracle),
                "oracle_only": sorted(oracle - site),
                "terms_only": sorted(oracle - substring),
                "substring_only": sorted(substring - oracle),
            }
            if form == '"English phrase"':
                # The phrase read literally: its words with one space between, not any punctuation.
                literal = re.compile(f"(?<!{LATIN}){re.escape(fold(node[1]))}(?!{LATIN})".replace(r"\ ", " "), re.I)
                result["literal"] = sum(1 for a in articles if any(literal.search(f) for f in a.fields))
            if form == "simplified script":
                source = drawer.sources[node[1]]
                result["traditional"] = source
                result["traditional_count"] = len(substring_ids(articles, ("term", source, False)))
            if len(oracle) > 100 and not set(canned) <= oracle:
                result["canned_agrees"] = False
            if not result["oracles_agree"]:
                result["why"] = {
                    i: why_oracles_differ(by_id[i], node, i in oracle)
                    for i in result["terms_only"] + result["substring_only"]
                }
            result["context"] = {
                i: near_context(by_id[i], node) if node[0] == "near" else context(by_id[i], node)
                for i in result["site_only"] + result["oracle_only"] + result["terms_only"] + result["substring_only"]
            }
            results.append(result)
        print(
            f"{form}: {len(picked)} queries, drawn in {drawn:.0f} s, compared in {time.perf_counter() - clock - drawn:.0f} s",
            file=sys.stderr,
        )
    other_lines, other = await readings(articles, ds)
    report(results, args, head, dirty, drawer.notes, time.perf_counter() - started)
    print("\nOther readings of the visible text, over the whole sample:")
    for line in other_lines:
        print(line)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "db": str(args.db),
                    "seed": args.seed,
                    "per_form": args.per_form,
                    "commit": head,
                    "uncommitted": dirty,
                    "sqlite": sqlite3.sqlite_version,
                    "python": platform.python_version(),
                    "results": results,
                    "other_readings": other,
                },
                ensure_ascii=False,
                indent=1,
            ),
            encoding="utf-8",
        )


def report(results, args, head, dirty, notes, seconds):
    print(f"{args.db}, seed {args.seed}, {args.per_form} per form; commit {head}", end="")
    print(f" with uncommitted changes to {', '.join(dirty)}" if dirty else "")
    print(f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}; {seconds:.0f} s in all\n")
    print("| form | queries | site = oracle | oracle = substring | canned | matches (min–max) | ms median / p95 |")
    print("|---|---|---|---|---|---|---|")
    total = {"n": 0, "site": 0, "oracles": 0, "canned": 0}
    for form in FORMS:
        rows = [r for r in results if r["form"] == form]
        if not rows:
            continue
        ms = [r["ms"] for r in rows]
        counts = [r["oracle"] for r in rows]
        site = sum(r["site_agrees"] for r in rows)
        oracles = sum(r["oracles_agree"] for r in rows)
        canned = sum(r["canned_agrees"] for r in rows)
        total["n"] += len(rows)
        total["site"] += site
        total["oracles"] += oracles
        total["canned"] += canned
        print(
            f"| `{form}` | {len(rows)} | {site} | {oracles} | {canned} | {sum(counts):,} ({min(counts)}–{max(counts)}) "
            f"| {statistics.median(ms):.0f} / {percentile(ms, 0.95):.0f} |"
        )
    ms = [r["ms"] for r in results]
    print(
        f"| all | {total['n']} | {total['site']} | {total['oracles']} | {total['canned']} "
        f"| {sum(r['oracle'] for r in results):,} | {statistics.median(ms):.0f} / {percentile(ms, 0.95):.0f} |"
    )
    wrong = [r for r in results if not (r["site_agrees"] and r["oracles_agree"] and r["canned_agrees"])]
    print(f"\n{len(wrong)} queries disagree")
    for r in wrong:
        print(
            f"\n{r['form']}: {r['query']}  site {r['site']} (count {r['site_count']}), oracle {r['oracle']}, "
            f"substring {r['substring']}, canned {r['canned']}"
        )
        for key, label in (
            ("site_only", "site, not oracle"),
            ("oracle_only", "oracle, not site"),
            ("terms_only", "hkcnews.terms, not substring"),
            ("substring_only", "substring, not hkcnews.terms"),
        ):
            for i in r[key]:
                why = r.get("why", {}).get(i, "")
                print(f"  {label}: {i} {r['context'][i]}" + (f"  [{why}]" if why else ""))
    phrases = [r for r in results if "literal" in r]
    if phrases:
        other = [r for r in phrases if r["literal"] != r["oracle"]]
        print(
            f"\nquoted phrases: {len(other)} of {len(phrases)} find another number of articles read literally "
            "(the words with one space between, nothing else)"
        )
        for r in other:
            print(f"  {r['query']}: {r['oracle']}; literally {r['literal']}")
    simplified = [r for r in results if "traditional" in r]
    if simplified:
        wider = [r for r in simplified if r["oracle"] != r["traditional_count"]]
        print(
            f"\nsimplified script: {len(wider)} of {len(simplified)} find another number of articles "
            "than the traditional word they were drawn from"
        )
        for r in wider:
            print(f"  {r['query']}: {r['oracle']}; {r['traditional']}: {r['traditional_count']}")
    for note in dict.fromkeys(notes):
        print(f"note: {note}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, type=Path, help="a database build_db.py made")
    parser.add_argument("--seed", type=int, default=0, help="seed of the queries drawn (default 0)")
    parser.add_argument("--per-form", type=int, default=40, help="queries of each form (default 40)")
    parser.add_argument("--json", help="write every query's result to this file")
    args = parser.parse_args(argv)
    if not args.db.exists():
        parser.error(f"--db {args.db}: no such file")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
