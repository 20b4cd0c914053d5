"""Which files of the backup are one article.

The backup is a folder of web-archive captures, not of articles. Every file
is a capture, and each capture is one of:

- **failed**: it holds no article: no date and no text beyond a headline.
  These are the closed site's farewell page, the "Temporarily Offline" error
  page and captures with every field empty; ``failed_reason`` names which.
  The outlet's own farewell statement has a date and a text, so it is an
  article like any other.
- **a repeat** of another capture: the same title and date (folded to one
  script, white space ignored) and a text that is at least ``SIMILAR`` the
  same: that share of its characters lies in clauses (text between
  punctuation marks) that the other text has too. A capture cut short, with
  re-stamped image addresses or under another article's slug is such a
  repeat; two different texts under one title on one day, or one title on
  two dates, are not.
- **an article**: the capture under the lowest number among an article's
  captures, which gives the article its id. The article's text is its most
  complete capture's (``completeness``).

Pure functions of what the captures hold: the build parses a group's files
and asks ``reconcile`` what they are.
"""

import re
from dataclasses import dataclass
from functools import cached_property

from hkcnews.terms import fold, without_headline

# Measured on the real sample: the 33 repeats among its captures that share
# a title and date are all >= 0.94 alike; of two different articles of one
# month, at most 0.24 (two reports on one court case). Halfway between.
SIMILAR = 0.5
# The outlet closed on 2022-01-04; captures from after that are often cut
# short (at /article/N/0), so a tie goes to the earliest capture before it.
CLOSED = "2022-01-04"

_SPACE = re.compile(r"\s+")
# Clauses end at punctuation, Chinese or Latin, and at line ends; a capture
# cut short loses only whole clauses and the one it was cut in.
_CLAUSE_END = re.compile(r"[。，、；：！？「」『』（）《》!?;:,.()\n]+")


def squeeze(text):
    """Text folded to one script with all white space removed (the no-break
    and ideographic spaces included), for comparing titles."""
    return _SPACE.sub("", fold(text or ""))


FAREWELL_TITLE = squeeze("眾新聞告別感謝讀者")
OFFLINE_TITLE = squeeze("Temporarily Offline").casefold()


def failed_reason(columns, body):
    """Why a capture holds no article, or None when it holds one.
    ``columns`` are its front matter's columns, ``body`` its Markdown; it
    holds an article when dated or when the body says anything beyond the
    headline (text, a picture, a video)."""
    if columns["date"] or without_headline(body).strip():
        return None
    title = squeeze(columns["title"])
    if title == FAREWELL_TITLE:
        return "farewell"
    if title.casefold() == OFFLINE_TITLE:
        return "offline"
    # The backup's empty captures still name the address they captured.
    if not any(columns[f] for f in ("title", "author", "category", "tags")):
        return "empty"
    return "no text"


def group_key(title, date):
    """What repeats of one article share: title and date."""
    return squeeze(title), date or ""


def clauses(text):
    """The clauses of a text, white space removed."""
    return [c for c in (_SPACE.sub("", piece) for piece in _CLAUSE_END.split(text)) if c]


def containment(part, whole):
    """Share of the characters of ``part``'s clauses that are clauses of
    ``whole`` too: 1.0 for a text cut short from the other at a clause's
    end; an empty text is contained in any."""
    total = sum(map(len, part))
    if not total:
        return 1.0
    found = set(whole)
    return sum(len(c) for c in part if c in found) / total


@dataclass
class Capture:
    """What reconciling needs of one capture: its number, its visible-text
    length, when it was captured, and its text without the headline."""

    id: int
    char_count: int
    archived_at: str | None
    text: str

    @cached_property
    def clauses(self):
        # Only captures that have others to be compared with need them.
        return clauses(self.text)


def completeness(capture):
    """Sort key, most complete first: the longest visible text, then the
    earliest capture before the closure, then the lowest number."""
    before_closure = capture.archived_at is not None and capture.archived_at < CLOSED
    return (-capture.char_count, not before_closure, capture.archived_at or "", capture.id)


@dataclass
class Article:
    """One article among a group's captures: the chosen capture first, each
    capture with its similarity to the chosen text."""

    captures: list  # [(Capture, similarity)], the chosen one first

    @property
    def chosen(self):
        return self.captures[0][0]

    @property
    def id(self):
        return min(c.id for c, _ in self.captures)


def reconcile(captures):
    """The articles among captures that share a group key: each capture,
    most complete first, joins the article whose chosen text contains the
    most of it, if that is at least SIMILAR, or becomes a new article."""
    articles = []
    for capture in sorted(captures, key=completeness):
        best, similarity = None, 0.0
        for article in articles:
            share = containment(capture.clauses, article.chosen.clauses)
            if share > similarity:
                best, similarity = article, share
        if best is not None and similarity >= SIMILAR:
            best.captures.append((capture, similarity))
        else:
            articles.append(Article([(capture, 1.0)]))
    return sorted(articles, key=lambda a: a.id)


def adds_nothing(text, captions, chosen_text, chosen_captions):
    """Whether a repeat holds nothing the chosen capture lacks: its text,
    white space aside, stands within the chosen text (a capture cut short),
    and each of its captions is among the chosen captions."""
    return _SPACE.sub("", text) in _SPACE.sub("", chosen_text) and set(captions) <= set(chosen_captions)
