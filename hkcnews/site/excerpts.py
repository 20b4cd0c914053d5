"""What the server shows: search excerpts with the match marked."""

import html
import re

import nh3

from hkcnews.terms import fold, query_terms, visible_text, without_headline

_SPACE = re.compile(r"\s+")
_MARKDOWN_MARKS = re.compile(r"^\s{0,3}(?:#{1,6}|>)\s*|\*\*|__", re.M)


def _term_pattern(term):
    # The index ignores punctuation and spaces inside a phrase, and matches
    # Latin words whole; the highlight follows it.
    parts = [re.escape(p) for p in re.split(r"[\W_]+", term) if p]
    pattern = r"[\W_]*".join(parts)
    if re.match(r"[A-Za-z0-9]", term):
        pattern = r"(?<![A-Za-z0-9])" + pattern
    if re.search(r"[A-Za-z0-9]$", term):
        pattern += r"(?![A-Za-z0-9])"
    return pattern


def query_regex(query):
    """A regular expression of every place where a term of ``query`` matches
    folded text, or None for a query with nothing to find. Longer terms
    first, so that of two terms one inside the other the whole one is a hit."""
    terms = sorted(query_terms(query), key=len, reverse=True)
    patterns = [p for p in map(_term_pattern, terms) if p]
    if not patterns:
        return None
    # Case-blind only when there are letters to fold: re.I makes a search
    # for Chinese characters four times slower.
    flags = re.I if any(re.search("[A-Za-z]", t) for t in terms) else 0
    return re.compile("|".join(f"(?:{p})" for p in patterns), flags)


def match_spans(text, query):
    """(start, end) of every place in ``text`` where a query term matches,
    in order, found in the folded text (which lines up with ``text``)."""
    regex = query_regex(query)
    if regex is None:
        return []
    return [m.span() for m in regex.finditer(fold(text)) if m.end() > m.start()]


def plain_text(markdown):
    """An article body as the plain text a reader sees, on one line: no
    headline, markup, link targets or captions."""
    text = without_headline(markdown)
    return _SPACE.sub(" ", _MARKDOWN_MARKS.sub("", visible_text(text))).strip()


def excerpt(markdown, query, before=30, length=120):
    """A short HTML-safe excerpt of an article body around the first match of
    ``query``, each match wrapped in ``<mark>``. Starts at the beginning when
    the match is only in the title or a caption."""
    text = plain_text(markdown)
    spans = match_spans(text, query)
    start = max(0, spans[0][0] - before) if spans else 0
    end = min(len(text), start + length)
    pieces = ["…" if start else ""]
    pos = start
    for s, e in spans:
        if e <= start or s < pos:
            continue
        if s >= end:
            break
        pieces += [html.escape(text[pos:s]), "<mark>", html.escape(text[s:e]), "</mark>"]
        pos = e
    pieces.append(html.escape(text[pos : max(end, pos)]))
    if max(end, pos) < len(text):
        pieces.append("…")
    return "".join(pieces)


def safe_marked_html(value):
    """Markup allowing ``<mark>`` and nothing else: whatever SQL produced the
    value, no other tag or attribute reaches the page."""
    return nh3.clean(str(value), tags={"mark"}, attributes={})
