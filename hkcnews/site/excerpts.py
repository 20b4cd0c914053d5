"""What the server shows of a search's hits: passages of an article's
text around its best hits, marked, for the table page's results (a
snippet column in its HTML, CSV and JSON), the canned search and
search-all; the marked-HTML rule every such cell follows."""

import functools
import html
import json
import re
import threading
from collections import OrderedDict

import nh3

from hkcnews.ours import ARTICLES
from hkcnews.terms import fold, query_terms, visible_text, without_headline, written_forms

_MARKDOWN_MARKS = re.compile(r"^\s{0,3}(?:#{1,6}|>)\s*|\*\*|__", re.M)


def _term_pattern(term, written=False):
    # The index ignores punctuation and spaces inside a phrase, and matches
    # Latin words whole; the highlight follows it.
    parts = [_part_pattern(p, written) for p in re.split(r"[\W_]+", term) if p]
    pattern = r"[\W_]*".join(parts)
    if re.match(r"[A-Za-z0-9]", term):
        pattern = r"(?<![A-Za-z0-9])" + pattern
    if re.search(r"[A-Za-z0-9]$", term):
        pattern += r"(?![A-Za-z0-9])"
    return pattern


def _part_pattern(part, written):
    if not written:
        return re.escape(part)
    return "".join(map(_written_class, part))


@functools.lru_cache(maxsize=4096)
def _written_class(char):
    forms = written_forms(char)
    return re.escape(char) if len(forms) == 1 else "[" + "".join(map(re.escape, forms)) + "]"


@functools.lru_cache(maxsize=256)
def query_regex(query, written=False):
    """A regular expression of every place where a term of ``query`` matches
    folded text (or, ``written``, the text as written: each character of a
    term as any character that folds to it), or None for a query with
    nothing to find. Longer terms first, so that of two terms one inside
    the other the whole one is a hit."""
    terms = sorted(query_terms(query), key=len, reverse=True)
    patterns = [p for p in (_term_pattern(t, written) for t in terms) if p]
    if not patterns:
        return None
    # Case-blind only when there are letters to fold: re.I makes a search
    # for Chinese characters four times slower.
    flags = re.I if any(re.search("[A-Za-z]", t) for t in terms) else 0
    return re.compile("|".join(f"(?:{p})" for p in patterns), flags)


def match_spans(text, query):
    """(start, end) of every place in ``text`` where a query term matches,
    in order. Found in the text as written: folding a whole article costs
    more than every other step of a passage."""
    regex = query_regex(query, written=True)
    if regex is None:
        return []
    return [m.span() for m in regex.finditer(text) if m.end() > m.start()]


def plain_text(markdown):
    """An article body as the plain text a reader sees, on one line: no
    headline, markup, link targets or captions."""
    text = visible_text(without_headline(markdown))
    # _MARKDOWN_MARKS has no fixed first character, so its search of a text
    # costs more than these four of what it needs.
    if "#" in text or ">" in text or "**" in text or "__" in text:
        text = _MARKDOWN_MARKS.sub("", text)
    # split() and join(): the same as collapsing \s+ and stripping, five times faster.
    return " ".join(text.split())


def safe_marked_html(value):
    """Markup allowing ``<mark>`` and nothing else: whatever SQL produced the
    value, no other tag or attribute reaches the page."""
    return nh3.clean(str(value), tags={"mark"}, attributes={})


# A passage: at most PASSAGE_CHARS characters of an article's text, with
# LEAD_CHARS of it before the first hit, so that a hit is read in its sentence.
PASSAGE_CHARS = 160
LEAD_CHARS = 20
_LATIN_CHAR = re.compile(r"[A-Za-z0-9]")


# passage_text's answers for the articles whose passages were shown last,
# up to TEXTS_CHARS characters of body and text together (6-12 MB a
# process, some 600 articles of the archive): a broad search's first page
# is mostly the newest articles, whatever the word, and finding an
# article's visible text took half the time of its passage. Keyed by the
# body and figures themselves, so an answer is the function's, whatever
# file or request they came from.
TEXTS_CHARS = 3_000_000
_TEXTS = OrderedDict()
_TEXTS_SIZE = [0]
_TEXTS_LOCK = threading.Lock()


def passage_text(body, figures):
    """The text a passage is cut from: the body as a reader sees it, then its
    figures' captions, credits and alt text ((caption, credit, alt) triples),
    on one line; the title is shown beside it, so it is left out."""
    key = (body, tuple(tuple(figure) for figure in figures))
    with _TEXTS_LOCK:
        text = _TEXTS.get(key)
        if text is not None:
            _TEXTS.move_to_end(key)
            return text
    parts = [plain_text(body or "")] + [" ".join(" ".join(filter(None, figure)).split()) for figure in figures]
    text = " ".join(filter(None, parts))
    size = len(body or "") + len(text) + sum(len(part or "") for figure in key[1] for part in figure)
    if size <= TEXTS_CHARS // 100:
        with _TEXTS_LOCK:
            if key not in _TEXTS:
                _TEXTS[key] = text
                _TEXTS_SIZE[0] += size
            while _TEXTS_SIZE[0] > TEXTS_CHARS:
                (old_body, old_figures), old_text = _TEXTS.popitem(last=False)
                _TEXTS_SIZE[0] -= (
                    len(old_body or "")
                    + len(old_text)
                    + sum(len(part or "") for figure in old_figures for part in figure)
                )
    return text


def passage(text, query, length=PASSAGE_CHARS):
    """HTML of at most ``length`` characters of ``text`` (one line, as
    passage_text gives it) where the most of ``query``'s terms occur
    together, then the most hits; each hit in ``<mark>``, as written (a
    simplified query marks traditional text). The start of the text when no
    term occurs in it (a hit in the title alone). Everything else escaped."""
    spans = match_spans(text, query)
    start = _best_start(text, spans, length)
    end = min(len(text), start + length)
    if end - start < length:
        start = max(0, end - length)  # a hit near the end: the passage ends there
    start, end = _whole_words(text, start, end, spans)
    pieces = ["…" if start else ""]
    pos = start
    for s, e in spans:
        if s < start or e > end:
            continue
        pieces += [html.escape(text[pos:s]), "<mark>", html.escape(text[s:e]), "</mark>"]
        pos = e
    pieces.append(html.escape(text[pos:end]))
    pieces.append("…" if end < len(text) else "")
    return "".join(pieces)


def _best_start(text, spans, length):
    # Windows that start LEAD_CHARS before a hit, scored by how many distinct
    # terms, then how many hits, end within them: one pass, the window's
    # last hit moving forward as its first does, the distinct terms counted
    # as they come and go (a one-character search has thousands of hits).
    if not spans:
        return 0
    folded = {}
    keys = [folded.get(hit) or folded.setdefault(hit, fold(hit).lower()) for hit in (text[s:e] for s, e in spans)]
    counts = dict.fromkeys(folded.values(), 0)
    best, best_score, last, distinct = 0, (0, 0), 0, 0
    for first, (s, _) in enumerate(spans):
        while last < len(spans) and (last == first or spans[last][1] <= s - LEAD_CHARS + length):
            distinct += counts[keys[last]] == 0
            counts[keys[last]] += 1
            last += 1
        score = (distinct, last - first)
        if score > best_score:
            best, best_score = first, score
        counts[keys[first]] -= 1
        distinct -= counts[keys[first]] == 0
    return max(0, spans[best][0] - LEAD_CHARS)


def _whole_words(text, start, end, spans):
    # An English word cut at either end of a passage is left out, unless
    # that would leave out a hit.
    first_hit = min((s for s, e in spans if s >= start), default=end)
    last_hit = max((e for s, e in spans if e <= end), default=start)
    if 0 < start < len(text) and _LATIN_CHAR.match(text[start - 1]) and _LATIN_CHAR.match(text[start]):
        space = text.find(" ", start, first_hit)
        if space >= 0:
            start = space + 1
    if 0 < end < len(text) and _LATIN_CHAR.match(text[end - 1]) and _LATIN_CHAR.match(text[end]):
        space = text.rfind(" ", last_hit, end)
        if space >= 0:
            end = space
    return start, end


def article_passage(query, body, figures=()):
    """passage() of an article's body and figures ((caption, credit, alt)
    triples), or of its body alone."""
    return passage(passage_text(body, figures), query)


def article_passage_sql(body, query, figures_json=None):
    """The SQL function search_excerpt(body, q[, figures]): article_passage
    with the figures as the JSON array of [caption, credit, alt] that the
    canned search makes (terms.check_sql's subquery)."""
    return article_passage(query, body, json.loads(figures_json) if figures_json else ())


def figures_of(conn, ids=None):
    """{article id: [(caption, credit, alt)] in order} of the articles ``ids``
    (None: of every article), in one query."""
    figures = {}
    where = "" if ids is None else f"where article_id in ({', '.join('?' * len(ids))}) "
    for article_id, caption, credit, alt in conn.execute(
        f"select article_id, caption, credit, alt from figures {where}order by article_id, position",
        ids or (),
    ):
        figures.setdefault(article_id, []).append((caption, credit, alt))
    return figures


def bodies_and_figures(conn, ids):
    """{article id: (body, figures)} of the articles ``ids``: what their
    passages are cut from, in two queries."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return {}
    figures = figures_of(conn, ids)
    sql = f"select id, body from [{ARTICLES}] where id in ({', '.join('?' * len(ids))})"
    return {article_id: (body, figures.get(article_id, [])) for article_id, body in conn.execute(sql, ids)}


def passages(conn, query, ids):
    """{article id: passage HTML} of the articles ``ids`` for ``query``."""
    return {
        article_id: article_passage(query, body, figures)
        for article_id, (body, figures) in bodies_and_figures(conn, ids).items()
    }
