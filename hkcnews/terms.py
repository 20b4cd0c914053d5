"""What a reader's text is indexed as, and what a reader's query looks for.

The build imports ``index_terms`` to fill the full-text index and the Datasette
plugin imports ``fts_query`` to search it, so the two cannot drift apart.

SQLite's unicode61 tokenizer treats a whole run of Chinese characters as one
token, so a search for a two-character word inside a sentence finds nothing.
Instead every run of CJK characters is indexed as its overlapping bigrams
followed by its last character on its own:

    香港台灣 -> 香港 港台 台灣 灣

A query of two or more characters becomes a phrase of its bigrams, which
matches exactly where those characters stand next to each other inside one
run. Because the single token sits between runs, no phrase can match across
punctuation or spaces. A one-character query looks in a column of its own
that holds each distinct character of the article once (``index_chars``):
one short posting per article instead of a prefix scan over every bigram.
Everything that is not CJK is left for unicode61 to split into whole,
case-folded words.

Text and query are first folded to one script with OpenCC (t2s), one
character at a time, so that 臺灣, 台灣 and 台湾 are the same terms and the
folded text lines up character for character with the original.
"""

import html
import operator
import re

import opencc

__all__ = [
    "fold",
    "visible_text",
    "without_headline",
    "index_terms",
    "index_chars",
    "index_article",
    "article_text",
    "without_placeholder",
    "query_terms",
    "fts_query",
    "TERMS_SCHEME",
]

# Stored in each database the build writes and bumped whenever index_terms
# changes, so the server only searches indexes it knows how to query.
TERMS_SCHEME = "cjk-bigram-t2s-2"

# An empty phrase is valid FTS5 and matches no row: what a query with no
# searchable characters ("，", "*", "") turns into.
MATCH_NOTHING = '""'

# Letters of the CJK scripts as ranges (a regex class of ranges is far
# faster than one listing each character). Only letters: the kana block also
# holds punctuation such as the middle dot in 安東尼・布林肯 (U+30FB), which
# must end a run like any other punctuation.
_CJK_RANGES = [
    (0x3041, 0x3096),  # hiragana
    (0x309D, 0x309F),
    (0x30A1, 0x30FA),  # katakana
    (0x30FC, 0x30FF),
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xAC00, 0xD7AF),  # hangul syllables
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x20000, 0x3134F),  # CJK extensions B to G
]
# Kana has no traditional and simplified forms: OpenCC folds what follows.
_FIRST_IDEOGRAPH = 0x3400
_CJK = "[" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in _CJK_RANGES) + "]"
_CJK_RUN = re.compile(_CJK + "+")
_CJK_SPLIT = re.compile(f"({_CJK}+)")
_WORD_CHAR = re.compile(r"[^\W_]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _fold_table():
    # One OpenCC call over every ideograph, split back into characters: a
    # per-character table keeps folding context-free (a term folds the same
    # way inside any sentence) and length-preserving (positions in the folded
    # text are positions in the original, which excerpts rely on).
    converter = opencc.OpenCC("t2s")
    source = [chr(c) for lo, hi in _CJK_RANGES if lo >= _FIRST_IDEOGRAPH for c in range(lo, hi + 1)]
    folded = converter.convert("\n".join(source)).split("\n")
    table = {ord(s): f for s, f in zip(source, folded, strict=True) if s != f and len(f) == 1}
    # Full-width Latin letters and digits (ＣＯＶＩＤ１９) are the same words as
    # their ASCII forms; the ideographic space is a space.
    table.update({c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)})
    table[0x3000] = " "
    return table


_FOLD = _fold_table()


def fold(text):
    """Traditional to simplified script and full-width to ASCII, one character
    for one character, so ``len(fold(s)) == len(s)``."""
    return text.translate(_FOLD)


_FIGURE_CAPTION = re.compile(r"<figcaption\b.*?</figcaption>", re.S | re.I)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
_SHORTCODE = re.compile(r"\{\{[<%].*?[%>]\}\}", re.S)
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_TAG = re.compile(r"<[^>]*>")
_URL = re.compile(r"\b(?:https?|ftp)://\S+|\bwww\.\S+", re.I)
# An article body opens with its headline again.
_HEADLINE = re.compile(r"\A\s*#[^\n]*(?:\n|\Z)")


# What the CMS put in an empty caption, a reader never saw as a caption:
# 「請在這輸入 Caption。如不需要caption, 請將此行文字移除」, 29 times misspelled
# "Captain" in the backup, once followed by a credit (…移除。美聯社資料圖片),
# and left in place when an editor typed the real caption before or after it.
# It is removed wherever it stands: from 請在這輸入 to the nearest 移除 (the
# words between vary in spelling, spaces and commas, so they are not spelled
# out; 40 characters is room for them but not for a real caption besides), or,
# in a capture cut short before 移除, to the end.
_PLACEHOLDER = re.compile(r"請在這輸入(?:.{0,40}?請將此行文字\s*移除\s*[。.]?|.*)", re.S)


def without_placeholder(caption):
    """A caption's text without the CMS's placeholder, a space where it stood
    (it was a line of its own: the text either side may be a caption and its
    credit). The build's captions and the article page's both lose it here."""
    return _PLACEHOLDER.sub(" ", caption)


def without_headline(markdown):
    """An article body without the headline it repeats at its start: what
    the article says beyond its title (excerpts, the article page, and the
    text that tells captures apart)."""
    return _HEADLINE.sub("", markdown or "")


def visible_text(markdown):
    """The words a reader sees in an article body's Markdown: link texts but
    not their targets, image alt text but not the image path, no HTML tags or
    attributes, no bare URLs. Captions are indexed with their figures, so the
    body's own ``<figcaption>`` elements are left out here."""
    text = _HTML_COMMENT.sub(" ", markdown)
    text = _SHORTCODE.sub(" ", text)
    text = _FIGURE_CAPTION.sub(" ", text)
    text = _MD_IMAGE.sub(r" \1 ", text)
    text = _MD_LINK.sub(r" \1 ", text)
    text = _TAG.sub(" ", text)
    text = html.unescape(text)
    return _URL.sub(" ", text)


_SPACES = re.compile(r"\s+")
_MARKDOWN_MARKS = re.compile(r"^\s{0,3}(?:#{1,6}|>)\s*|\*\*|__", re.M)


def article_text(title, body, figures):
    """An article as one line of the text a reader sees, in which the
    language pages find their hits and count their n-grams: the title, the
    body without the headline it repeats, then each figure's caption, credit
    and alt text (what the index holds of it). ``figures`` is (caption,
    credit, alt) triples in order. Markdown's marks and runs of white space
    become one space each, so that they still end a run of characters as
    they do in the index."""
    parts = [title or "", visible_text(without_headline(body))]
    parts += [" ".join(filter(None, figure)) for figure in figures]
    text = _MARKDOWN_MARKS.sub(" ", " ".join(parts))
    return _SPACES.sub(" ", _CONTROL.sub(" ", text)).strip()


def _segments(text):
    """(is_cjk, piece) pairs covering ``text`` in order."""
    # split() keeps the CJK runs, at odd positions.
    for i, piece in enumerate(_CJK_SPLIT.split(text)):
        if piece:
            yield bool(i % 2), piece


def _bigrams(run):
    return list(map(operator.add, run, run[1:]))


def index_terms(text):
    """Turn text a reader sees into the string stored in the FTS5 index.

    The result is meant for a unicode61 tokenizer: CJK bigrams and single
    characters as space-separated tokens, other text unchanged.
    """
    return _terms_of_folded(_folded(text))


def index_chars(text):
    """Each distinct CJK character of the text once, sorted, for the index's
    one-character column."""
    return _chars_of_folded(_folded(text))


def index_article(title, body):
    """``index_chars(title + "\n" + body), index_terms(title),
    index_terms(body)``, folding each text once: the build's one pass over
    every character of the archive."""
    title, body = _folded(title), _folded(body)
    return _chars_of_folded(f"{title}\n{body}"), _terms_of_folded(title), _terms_of_folded(body)


def _folded(text):
    return fold(_CONTROL.sub(" ", text)) if text else ""


def _terms_of_folded(folded):
    # This runs over every character of the archive: split() directly, not
    # through the _segments generator, which made this 6% slower.
    out = []
    for i, piece in enumerate(_CJK_SPLIT.split(folded)):
        if i % 2:
            out.extend(_bigrams(piece))
            out.append(piece[-1])
        elif piece:
            out.append(piece)
    return " ".join(out)


def _chars_of_folded(folded):
    return " ".join(sorted(set("".join(_CJK_RUN.findall(folded)))))


_QUERY_TERM = re.compile(r'"([^"]*)"?|([^\s"]+)')


def query_terms(query):
    """The terms of a search box query, folded: words split on spaces, text
    in double quotes kept together as one phrase, an unclosed quote running to
    the end. FTS operators (OR, NOT, NEAR, *, -, :, brackets) are just text.
    Terms with no letters or digits are dropped."""
    query = fold(_CONTROL.sub(" ", query or ""))
    terms = []
    for m in _QUERY_TERM.finditer(query):
        term = (m.group(1) if m.group(1) is not None else m.group(2)).strip()
        if _WORD_CHAR.search(term):
            terms.append(term)
    return terms


def _phrase(term):
    """One query term as an FTS5 phrase over the tokens ``index_terms`` makes."""
    tokens = []
    prefix = False
    pieces = [(is_cjk, piece) for is_cjk, piece in _segments(term) if is_cjk or _WORD_CHAR.search(piece)]
    if len(pieces) == 1 and pieces[0][0] and len(pieces[0][1]) == 1:
        # One character: its token in the one-character column (or at the end
        # of a run) is there exactly when the article has the character.
        return f'"{pieces[0][1]}"'

    for i, (is_cjk, piece) in enumerate(pieces):
        if not is_cjk:
            # unicode61 splits this exactly as it split the indexed text.
            tokens.append(piece)
            continue
        if i == len(pieces) - 1:
            # The run may go on in the text (港 in 香港人): match its bigrams,
            # or a lone last character (COVID-19疫) as a prefix of the next.
            if len(piece) == 1:
                tokens.append(piece)
                prefix = True
            else:
                tokens.extend(_bigrams(piece))
        else:
            # Letters follow, so in a match the run ends here as well.
            tokens.extend(_bigrams(piece))
            tokens.append(piece[-1])
    phrase = '"' + " ".join(tokens).replace('"', " ") + '"'
    return phrase + " *" if prefix else phrase


def fts_query(query):
    """Turn what a reader typed into an FTS5 MATCH expression: every term must
    match, each as a phrase. Never raises and never yields invalid FTS5
    syntax; a query with nothing searchable matches no row."""
    phrases = [_phrase(term) for term in query_terms(query)]
    return " AND ".join(phrases) if phrases else MATCH_NOTHING
