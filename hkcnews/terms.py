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

import functools
import html
import json
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
    "positive_terms",
    "parse_query",
    "fts_query",
    "check_query",
    "search_needs_check",
    "matches",
    "searched_body",
    "article_matches",
    "figure_matches",
    "check_sql",
    "SQL_FUNCTIONS",
    "QuerySyntaxError",
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
_WWW = re.compile(r"[wW]{3}\.")
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
    # Few bodies hold an address once their tags are gone, and looking for
    # one costs a fraction of _URL's search, which has no fixed first letter.
    if "://" in text or _has_www(text):
        text = _URL.sub(" ", text)
    return text


def _has_www(text):
    # Whether "www." stands in text in any case: what _URL's second branch needs.
    dot = text.find(".", 3)
    while dot >= 0:
        if text[dot - 3 : dot].lower() == "www":
            return True
        dot = text.find(".", dot + 1)
    return False


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


def _lenient_terms(query):
    # The search box's words before it had operators: what query_terms
    # falls back to for a query that does not parse, so that an excerpt of
    # a malformed query still marks its words.
    terms = []
    for m in _QUERY_TERM.finditer(query):
        term = (m.group(1) if m.group(1) is not None else m.group(2)).strip()
        if _WORD_CHAR.search(term):
            terms.append(term)
    return terms


def query_terms(query):
    """The positive terms of a search box query, folded (``positive_terms``):
    the words and quoted phrases an article must or may contain, not those
    after ``-``. Never raises: a query that does not parse gives its words
    split on spaces and double quotes, operators as text."""
    try:
        return positive_terms(query)
    except QuerySyntaxError:
        return _lenient_terms(fold(_CONTROL.sub(" ", query or "")))


# ---------------------------------------------------------------------------
# The query language (issue 21), in order of precedence, loosest first:
#
#     query   := or
#     or      := and ("OR" and)*
#     and     := unary (["AND"] unary)*        a space is AND
#     unary   := ("-" | "NOT") unary | near
#     near    := primary (("NEAR" | "NEAR/n") term)*
#     primary := term | "(" or ")"
#     term    := word | "quoted text"
#
# Operators are upper case (or, and, not, near are words); ``-`` negates
# only when it starts a word (COVID-19 is one term). ``A NEAR/n B`` means
# both, with at most n characters between them in either order, within the
# title or within the text (bare NEAR is NEAR/10); a chain A NEAR B NEAR C
# is (A NEAR B) AND (B NEAR C). A query made only of characters that are
# not letters or digits matches nothing; one that does not parse, or whose
# only terms are negated, raises QuerySyntaxError.

DEFAULT_NEAR = 10
MAX_NEAR = 1000
MAX_TERMS = 64
MAX_DEPTH = 32


class QuerySyntaxError(ValueError):
    """A query that does not parse, or cannot be searched; the message says
    why in plain words: ``"國安法 OR": OR needs a term after it``."""


def _quoted(query):
    query = " ".join(query.split())
    return query if len(query) <= 60 else query[:57] + "…"


_NEAR = re.compile(r"NEAR(?:/(\d*))?\Z")


def _tokens(query):
    """(kind, value) pairs: ("term", folded text), ("(", None), (")", None),
    ("-", None), ("OR"/"AND", None), ("NEAR", n)."""
    text = fold(_CONTROL.sub(" ", query or ""))
    tokens = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise _error(query, 'a double quote " has no closing quote')
            phrase = text[i + 1 : end].strip()
            if _WORD_CHAR.search(phrase):
                tokens.append(("term", phrase))
            i = end + 1
        elif c in "()":
            tokens.append((c, None))
            i += 1
        elif c == "-" and (i + 1 >= n or text[i + 1].isspace() or text[i + 1] == ")"):
            raise _error(query, "- needs a term right after it, as in -台灣")
        elif c == "-":
            tokens.append(("-", None))
            i += 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in '"()':
                j += 1
            word = text[i:j]
            i = j
            near = _NEAR.match(word)
            if word in ("OR", "AND"):
                tokens.append((word, None))
            elif word == "NOT":
                tokens.append(("-", None))
            elif near:
                if near.group(1) == "":
                    raise _error(query, f"{word} needs a number of characters, as in NEAR/10")
                distance = DEFAULT_NEAR if near.group(1) is None else int(near.group(1))
                if distance > MAX_NEAR:
                    raise _error(query, f"{word}: at most NEAR/{MAX_NEAR}")
                tokens.append(("NEAR", distance))
            elif word.startswith("NEAR/"):
                raise _error(query, f"{word}: NEAR/ needs a number of characters, as in NEAR/10")
            elif _WORD_CHAR.search(word):
                tokens.append(("term", word))
    return tokens


def _error(query, problem):
    return QuerySyntaxError(f'"{_quoted(query)}": {problem}')


class _Parser:
    def __init__(self, query):
        self.query = query
        self.tokens = _tokens(query)
        self.at = 0
        self.depth = 0

    def peek(self):
        return self.tokens[self.at][0] if self.at < len(self.tokens) else None

    def take(self):
        token = self.tokens[self.at]
        self.at += 1
        return token

    def fail(self, problem):
        raise _error(self.query, problem)

    def parse(self):
        if not self.tokens:
            return None
        if sum(kind == "term" for kind, _ in self.tokens) > MAX_TERMS:
            self.fail(f"at most {MAX_TERMS} terms")
        tree = self.parse_or()
        if self.peek() == ")":
            self.fail(") has no ( before it")
        return tree

    def _operand(self, operator, before):
        # What may start an operand; an operator's missing side named.
        kind = self.peek()
        if kind in (None, ")", "OR", "AND"):
            side = "before" if before else "after"
            if kind == ")" and not before:
                self.fail(f"{operator} needs a term after it, before the )")
            self.fail(f"{operator} needs a term {side} it")

    def parse_or(self):
        if self.peek() == "OR":
            self.fail("OR needs a term before it")
        items = [self.parse_and()]
        while self.peek() == "OR":
            self.take()
            self._operand("OR", before=False)
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else ("or", items)

    def parse_and(self):
        if self.peek() == "AND":
            self.fail("AND needs a term before it")
        items = [self.parse_unary()]
        while self.peek() not in (None, ")", "OR"):
            if self.peek() == "AND":
                self.take()
                self._operand("AND", before=False)
            items.append(self.parse_unary())
        return items[0] if len(items) == 1 else ("and", items)

    def deeper(self):
        # Brackets and -s nest: bounded, as a URL may carry thousands.
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(f"brackets and -s nest at most {MAX_DEPTH} deep")

    def parse_unary(self):
        if self.peek() == "-":
            self.deeper()
            self.take()
            if self.peek() not in ("term", "(", "-"):
                self.fail("- needs a term right after it, as in -台灣")
            inner = self.parse_unary()
            self.depth -= 1
            return inner[1] if inner[0] == "not" else ("not", inner)
        return self.parse_near()

    def parse_near(self):
        if self.peek() == "NEAR":
            self.fail("NEAR needs a term before it")
        first = self.parse_primary()
        if self.peek() != "NEAR":
            return first
        terms, distances = [first], []
        while self.peek() == "NEAR":
            distance = self.take()[1]
            if terms[-1][0] != "term":
                self.fail("NEAR joins words or quoted phrases, not a ( ) group")
            if self.peek() in (None, ")", "OR", "AND", "NEAR"):
                self.fail("NEAR needs a term after it")
            if self.peek() != "term":
                self.fail("NEAR joins words or quoted phrases, not a ( ) group or a -term")
            terms.append(self.parse_primary())
            distances.append(distance)
        return ("near", [t[1] for t in terms], distances)

    def parse_primary(self):
        kind = self.peek()
        if kind == "term":
            return ("term", self.take()[1])
        if kind == "(":
            self.deeper()
            self.take()
            if self.peek() == ")":
                self.fail("( ) holds no term")
            if self.peek() is None:
                self.fail("( has no ) after it")
            inner = self.parse_or()
            if self.peek() != ")":
                self.fail("( has no ) after it")
            self.take()
            self.depth -= 1
            return inner
        if kind == ")":
            self.fail(") has no ( before it")
        if kind in ("OR", "AND", "NEAR"):
            self.fail(f"{kind} needs a term before it")
        self.fail("a term is missing")  # pragma: no cover


def parse_query(query):
    """The parse tree of a search box query, or None for one with nothing
    to search for (empty, or only punctuation). Nodes are tuples:
    ``("term", folded text)``, ``("near", [folded text, …], [distance, …])``,
    ``("and", [node, …])``, ``("or", [node, …])``, ``("not", node)``.
    Raises QuerySyntaxError for a query that does not parse."""
    return _parsed(query or "")


@functools.lru_cache(maxsize=1024)
def _parsed(query):
    # Cached: the check of each candidate row of a NEAR search parses again.
    return _Parser(query).parse()


def _positive(node, out):
    kind = node[0]
    if kind == "term":
        out.append(node[1])
    elif kind == "near":
        out.extend(node[1])
    elif kind in ("and", "or"):
        for child in node[1]:
            _positive(child, out)


def positive_terms(query):
    """The folded terms of ``query`` that a matching article may contain
    (every term not under ``-``), once each, in order: what a page marks.
    Raises QuerySyntaxError as parse_query does."""
    out = []
    tree = parse_query(query)
    if tree is not None:
        _positive(tree, out)
    return list(dict.fromkeys(out))


def _phrase(term, near=False):
    """One query term as an FTS5 phrase over the tokens ``index_terms`` makes.
    ``near``: inside NEAR(), where a lone character is looked for as the
    token it starts in the title and text columns."""
    tokens = []
    prefix = False
    pieces = _pieces(term)
    if len(pieces) == 1 and pieces[0][0] and len(pieces[0][1]) == 1:
        # One character: its token in the one-character column (or at the end
        # of a run) is there exactly when the article has the character.
        # Inside NEAR, its position counts: every character of a run starts
        # exactly one token (a pair, or itself at the run's end).
        return f'"{pieces[0][1]}" *' if near else f'"{pieces[0][1]}"'

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


def _pieces(term):
    return [(is_cjk, piece) for is_cjk, piece in _segments(term) if is_cjk or _WORD_CHAR.search(piece)]


def _compile(node, query, lone_prefix=False):
    kind = node[0]
    if kind == "term":
        return _phrase(node[1], near=lone_prefix)
    if kind == "near":
        # FTS5 counts tokens, not characters. Each character of the text
        # starts at most one token, and the token that starts at the last
        # character of a pair phrase lies between in FTS5's count, so at most
        # n characters between means at most n + 1 tokens between: a superset,
        # which matches() then checks exactly (search_needs_check).
        terms, distances = node[1], node[2]
        pairs = [
            f"NEAR({_phrase(a, near=True)} {_phrase(b, near=True)}, {d + 1})"
            for a, b, d in zip(terms, terms[1:], distances, strict=False)
        ]
        return " AND ".join(pairs)
    if kind == "or":
        parts = []
        for child in node[1]:
            if _only_negative(child):
                raise _error(query, "each side of OR needs a term that must occur, not only -terms")
            parts.append(_group(_compile(child, query, lone_prefix), child))
        return " OR ".join(parts)
    children = node[1] if kind == "and" else [node]
    positive = [c for c in children if c[0] != "not"]
    negative = [c[1] for c in children if c[0] == "not"]
    if not positive:
        raise _error(query, "a search needs at least one term that must occur, not only -terms")
    expression = " AND ".join(_group(_compile(c, query, lone_prefix), c) for c in positive)
    if negative:
        if len(positive) > 1:
            expression = f"({expression})"
        for c in negative:
            if _only_negative(c):
                raise _error(query, "a -( ) group needs a term that must occur inside it")
            if _has_near(c):
                # FTS5 finds a superset of a NEAR, so NOT it would drop too
                # many: left to the exact check (search_needs_check).
                _compile(c, query, lone_prefix)
                continue
            expression += " NOT " + _group(_compile(c, query, lone_prefix), c)
    return expression


def _only_negative(node):
    if node[0] == "not":
        return True
    if node[0] == "and":
        return all(c[0] == "not" for c in node[1])
    if node[0] == "or":
        return any(_only_negative(c) for c in node[1])
    return False


def _group(expression, node):
    # A phrase and one NEAR() stand alone; anything else is bracketed.
    if node[0] == "term" or (node[0] == "near" and len(node[1]) == 2):
        return expression
    return f"({expression})"


def fts_query(query):
    """Turn what a reader typed into an FTS5 MATCH expression (the query
    language above): terms as phrases of the index's tokens, joined by FTS5's
    AND, OR, NOT and NEAR(). Exact but for NEAR, where it finds a superset
    that matches() narrows (search_needs_check). Never yields invalid FTS5
    syntax; a query with nothing searchable matches no row; raises
    QuerySyntaxError for one that does not parse or cannot be searched."""
    return _compiled(query or "")


@functools.lru_cache(maxsize=1024)
def _compiled(query):
    tree = parse_query(query)
    if tree is None:
        return MATCH_NOTHING
    return _compile(tree, query)


def column_fts_query(query, column):
    """An FTS5 MATCH expression for the rows whose ``column`` of the index
    alone satisfies ``query`` (NEAR a superset, as in fts_query): a column
    search (?_search_title=), and the canned search's headline matches. A
    lone character is looked for as the token it starts, since only the
    one-character column has every character as a token of its own.
    Raises QuerySyntaxError as fts_query does."""
    return _column_compiled(query or "", column)


@functools.lru_cache(maxsize=1024)
def _column_compiled(query, column):
    tree = parse_query(query)
    if tree is None:
        return MATCH_NOTHING
    return "{" + column + "} : (" + _compile(tree, query, lone_prefix=True) + ")"


def check_query(query):
    """Raise QuerySyntaxError unless ``query`` can be searched; what a page
    calls before it searches."""
    fts_query(query)


def _has_near(node):
    if node[0] == "near":
        return True
    if node[0] in ("and", "or"):
        return any(_has_near(c) for c in node[1])
    return node[0] == "not" and _has_near(node[1])


def search_needs_check(query):
    """Whether FTS5's matches for ``query`` are a superset that matches()
    must narrow: a query with NEAR. False for one that does not parse."""
    try:
        tree = parse_query(query)
    except QuerySyntaxError:
        return False
    return tree is not None and _has_near(tree)


# ---------------------------------------------------------------------------
# The oracle: what a query means over the text a reader sees.

_CJK_CHAR = re.compile(_CJK)
_LATIN = f"(?:(?!{_CJK})[^\\W_])"


def _term_regex_source(term):
    """A regex over folded text that finds where ``term`` occurs as the index
    finds it: a run of Chinese characters as a substring; Latin words whole,
    in any case; the pieces of a term in order with only spaces and
    punctuation between; a Chinese run that is not the first of its term
    starts a run of the text, one that is not the last ends one."""
    pieces = _pieces(term)
    parts = []
    for i, (is_cjk, piece) in enumerate(pieces):
        if is_cjk:
            part = re.escape(piece)
            if i > 0:
                part = f"(?<!{_CJK})" + part
            if i < len(pieces) - 1:
                part += f"(?!{_CJK})"
            parts.append(part)
        else:
            for word in re.findall(r"[^\W_]+", piece):
                parts.append(f"(?<!{_LATIN}){re.escape(word)}(?!{_LATIN})")
    return r"[\W_]*".join(parts)


@functools.lru_cache(maxsize=1024)
def _term_regex(term):
    return re.compile(f"(?=({_term_regex_source(term)}))", re.I)


@functools.lru_cache(maxsize=1024)
def _plain(term):
    """A term's text when it is one run of Chinese characters (found with
    str.find, far faster than a regex over a whole article), else None."""
    pieces = _pieces(term)
    return pieces[0][1] if len(pieces) == 1 and pieces[0][0] else None


@functools.lru_cache(maxsize=1024)
def _word_regex(term):
    """A regex of one Latin word (whose matches cannot overlap), else None."""
    pieces = _pieces(term)
    if len(pieces) == 1 and not pieces[0][0] and len(re.findall(r"[^\W_]+", pieces[0][1])) == 1:
        return re.compile(_term_regex_source(term), re.I)
    return None


def _spans(term, field):
    """(start, end) of every occurrence of ``term`` in a _Field, overlapping ones too."""
    plain = _plain(term)
    if plain is not None:
        return _plain_spans(plain, field.raw)
    word = _word_regex(term)
    if word is not None:
        return [m.span() for m in word.finditer(field.folded)]
    return [m.span(1) for m in _term_regex(term).finditer(field.folded)]


def _sources_table():
    sources = {}
    for source, folded in _FOLD.items():
        folded = chr(folded) if isinstance(folded, int) else folded
        sources.setdefault(folded, [folded]).append(chr(source))
    return sources


_SOURCES = _sources_table()


def written_forms(folded_char):
    """Every character that folds to ``folded_char``, itself first: the
    ways the text may write a character of a folded query (国: 国 國)."""
    return _SOURCES.get(folded_char, [folded_char])


def _plain_spans(plain, raw):
    # A run of Chinese characters in text that is not folded: str.find of
    # the one of its characters with the fewest forms in the text's script
    # (港 has one; 國 and 国 fold alike), then the run around each find
    # folded and compared. Far faster than folding a whole article.
    anchor = min(range(len(plain)), key=lambda k: len(_SOURCES.get(plain[k], ())))
    spans = set()
    for form in _SOURCES.get(plain[anchor], [plain[anchor]]):
        at = raw.find(form)
        while at >= 0:
            start = at - anchor
            if start >= 0 and fold(raw[start : start + len(plain)]) == plain:
                spans.add((start, start + len(plain)))
            at = raw.find(form, at + 1)
    return sorted(spans)


class _Field:
    """One field of a text, folded only if a term needs it so."""

    def __init__(self, raw):
        self.raw = raw

    @functools.cached_property
    def folded(self):
        return fold(self.raw)

    def sure_spans(self, plain):
        return []


# What visible_text reads as markup: a stretch of Markdown without these
# is in the visible text as it stands.
_MARKUP = re.compile(r"[<>\[\]()!{}&]|://|www\.", re.I)
_CAPTION_TAG = re.compile(r"<(?i:/?figcaption)")  # a literal first: fast
_SPACE_CHAR = re.compile(r"\s")


class _MarkdownBody(_Field):
    """An article's body field, read from its Markdown: the visible text
    and its captions (searched_body) are worked out only when the Markdown
    alone cannot tell. A NEAR or a term found in plain text of the Markdown,
    away from any markup, is in the visible text at the same distances:
    the usual case, and some hundred times faster than visible_text."""

    def __init__(self, markdown, figures):
        self.markdown = markdown
        self.figures = figures

    @functools.cached_property
    def raw(self):
        return searched_body(visible_text(self.markdown), self.figures)

    @functools.cached_property
    def _openers(self):
        # Where a caption starts or ends or a URL may start, in order:
        # (position, kind).
        md = self.markdown
        found = [(m.start(), m.group().lower()) for m in _CAPTION_TAG.finditer(md)]
        at = md.find("://")
        while at >= 0:
            found.append((at, "url"))
            at = md.find("://", at + 1)
        if "ww" in md or "WW" in md or "wW" in md or "Ww" in md:
            found += [(m.start(), "url") for m in _WWW.finditer(md)]
        return sorted(found)

    def plainly_visible(self, start, end):
        md = self.markdown
        if _MARKUP.search(md, start, end):
            return False
        if md.rfind("<", 0, start) > md.rfind(">", 0, start):
            return False  # inside a tag
        if md.rfind("<!--", 0, start) > md.rfind("-->", 0, start):
            return False
        if md.rfind("{{", 0, start) > md.rfind("}}", 0, start):
            return False  # a shortcode
        if md.rfind("](", 0, start) > md.rfind(")", 0, start):
            return False  # a link's or an image's target
        if md.rfind("&", max(0, start - 40), start) >= 0:
            return False  # an entity might reach it
        caption = url = None
        for position, kind in self._openers:
            if position >= start:
                break
            if kind != "url":
                caption = kind
            else:
                url = position
        if caption == "<figcaption":
            return False
        return url is None or bool(_SPACE_CHAR.search(md, url, start))

    def sure_spans(self, plain):
        return [(a, b) for a, b in _plain_spans(plain, self.markdown) if self.plainly_visible(a, b)]


def _near_in_markdown(terms, distances, body):
    # Only runs of Chinese characters, found in plain text of the Markdown
    # with plain text between: then the visible text has them as close.
    if any(_plain(t) is None for t in terms):
        return False
    spans = [body.sure_spans(_plain(t)) for t in terms]
    md = body.markdown
    for a_spans, b_spans, distance in zip(spans, spans[1:], distances, strict=False):
        if not any(
            max(b0 - a1, a0 - b1) <= distance and not _MARKUP.search(md, min(a1, b1), max(a0, b0))
            for a0, a1 in a_spans
            for b0, b1 in b_spans
        ):
            return False
    return True


def _near(terms, distances, text):
    if isinstance(text, _MarkdownBody) and _near_in_markdown(terms, distances, text):
        return True
    spans = []
    for term in terms:
        spans.append(_spans(term, text))
        if not spans[-1]:
            return False
    for a_spans, b_spans, distance in zip(spans, spans[1:], distances, strict=False):
        if not _close(a_spans, b_spans, distance):
            return False
    return True


def _close(a_spans, b_spans, distance):
    # Both lists are in order of start: for each A, the Bs that start
    # before A ends plus the distance, walked with a moving lower bound.
    first = 0
    for a0, a1 in a_spans:
        while first < len(b_spans) and b_spans[first][1] < a0 - distance:
            first += 1
        for b0, b1 in b_spans[first:]:
            if b0 - a1 > distance:
                break
            if max(b0 - a1, a0 - b1) <= distance:
                return True
    return False


def _holds(node, fields):
    kind = node[0]
    if kind == "term":
        plain = _plain(node[1])
        if plain is not None:
            return any(f.sure_spans(plain) or _plain_spans(plain, f.raw) for f in fields)
        regex = _term_regex(node[1])
        return any(regex.search(f.folded) for f in fields)
    if kind == "near":
        return any(_near(node[1], node[2], f) for f in fields)
    if kind == "and":
        return all(_holds(c, fields) for c in node[1])
    if kind == "or":
        return any(_holds(c, fields) for c in node[1])
    return not _holds(node[1], fields)


def matches(query, text):
    """Whether ``text`` (a string, or the fields of an article: its title,
    its text) satisfies ``query``, read on the folded text a reader sees:
    Chinese as substrings, Latin words whole and in any case; NEAR within
    one field, counting every character between (spaces and punctuation
    too). The specification the index is tested against. A query with
    nothing searchable matches nothing; raises QuerySyntaxError as
    fts_query does."""
    fts_query(query)  # the same errors
    tree = parse_query(query)
    if tree is None:
        return False
    fields = [text] if isinstance(text, str) else list(text)
    # Control characters are spaces to the index; to these regexes they are
    # already neither letters nor Chinese, and replacing them keeps lengths.
    return _holds(tree, [_Field(f or "") for f in fields])


def searched_body(text, figures):
    """The body column's text: the text a reader sees, then one line per
    figure of its caption, credit and alt text (those present, spaces
    between)."""
    return "\n".join([text] + [" ".join(filter(None, figure)) for figure in figures])


def article_matches(query, title, body, figures_json):
    """matches() over an article row: its title, and the text of its
    Markdown body with its figures' captions (a JSON array of [caption,
    credit, alt]), as the index reads them."""
    figures = json.loads(figures_json) if figures_json else []
    fts_query(query)  # the same errors
    tree = parse_query(query)
    if tree is None:
        return False
    return _holds(tree, [_Field(title or ""), _MarkdownBody(body or "", figures)])


def body_matches(query, body, figures_json):
    """article_matches of the body and figures alone (?_search_body=)."""
    return article_matches(query, "", body, figures_json)


def figure_matches(query, caption, credit, alt):
    """matches() over a figure row: its caption with its credit, and its alt text."""
    return matches(query, (" ".join(filter(None, (caption, credit))), alt or ""))


# The SQL functions that check a candidate row where FTS5 finds a superset
# (search_needs_check), and the conditions that call them: a CASE, so that a
# query without NEAR costs nothing more than its MATCH (SQLite works out
# search_needs_check(:param) once per statement).
SQL_FUNCTIONS = {
    "search_needs_check": (1, search_needs_check),
    # The row's id first, for a server to keep the answers by
    # (hkcnews/site/connections.py): a table page runs its clause for the
    # rows, the count and each facet.
    "search_article_matches": (
        5,
        lambda query, _id, title, body, figures: article_matches(query, title, body, figures),
    ),
    "search_figure_matches": (5, lambda query, _id, caption, credit, alt: figure_matches(query, caption, credit, alt)),
    # A column search's check: one field of text, or an article's body.
    "search_field_matches": (2, lambda query, text: matches(query, text or "")),
    "search_body_matches": (3, body_matches),
}
# The JSON array of [caption, credit, alt] of an article's figures, in order.
_FIGURES = (
    "(select json_group_array(json_array(caption, credit, alt)) from "
    "(select caption, credit, alt from figures where figures.article_id = {table}.id order by position))"
)
_ARTICLE_CHECK = (
    "(case when search_needs_check(:{param}) then search_article_matches(:{param}, {table}.id, {table}.title, {table}.body, "
    + _FIGURES
    + ") else 1 end)"
)
_FIGURE_CHECK = (
    "(case when search_needs_check(:{param}) then "
    "search_figure_matches(:{param}, {table}.id, {table}.caption, {table}.credit, {table}.alt) else 1 end)"
)


# A column search's check, by the column of the index it searches.
_COLUMN_CHECKS = {
    "title": "search_field_matches(:{param}, {table}.title)",
    "body": "search_body_matches(:{param}, {table}.body, " + _FIGURES + ")",
    "caption": "search_field_matches(:{param}, trim(coalesce({table}.caption, '') || ' ' || coalesce({table}.credit, '')))",
    "alt": "search_field_matches(:{param}, {table}.alt)",
}


def check_sql(param, table="articles", column=None):
    """An SQL condition on a row of ``table`` (articles or figures, named as
    the query names it) that keeps only the rows that satisfy the query in
    ``:param`` exactly; ANDed with its MATCH. ``column``: of a column
    search, which reads that column of the index alone."""
    if column is not None:
        check = _COLUMN_CHECKS.get(column)
        if check is None:
            return "1"  # the one-character column: no NEAR to check there
        return ("(case when search_needs_check(:{param}) then " + check + " else 1 end)").format(
            param=param, table=table
        )
    template = _FIGURE_CHECK if table.strip("[]").endswith("figures") else _ARTICLE_CHECK
    return template.format(param=param, table=table)
