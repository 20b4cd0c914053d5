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


def match_spans(text, query):
    """(start, end) of every place in ``text`` where a query term matches,
    in order, found in the folded text (which lines up with ``text``)."""
    patterns = [_term_pattern(t) for t in query_terms(query)]
    patterns = [p for p in patterns if p]
    if not patterns:
        return []
    regex = re.compile("|".join(f"(?:{p})" for p in patterns), re.I)
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
