"""Keyword in context: /<database>/-/concordance?q=國安法 shows every hit of
a search in the text of the articles it matches, a line each, the hits in
one column, sorted by date or by the characters beside them; .csv and
.jsonl give every line of the view.

Hits are found in article_texts (the folded text the build stores), so a
simplified query finds traditional text; a line shows the same stretch of
the article's own text (terms.article_text), which lines up with the
folded one character for character."""

import json
import math
import random
from dataclasses import dataclass
from urllib.parse import urlencode

from datasette.utils.asgi import BadRequest, Response

from hkcnews.ngrams import CJK_RUN
from hkcnews.ours import ARTICLES
from hkcnews.site.excerpts import query_regex
from hkcnews.site.matches import (
    archive_database,
    as_csv,
    folded_texts,
    matching_ids,
    original_texts,
    refused,
    selection,
    setting,
)
from hkcnews.terms import fold, query_terms

SORTS = ("date", "1L", "2L", "1R", "2R", "random")
LINES_PER_PAGE = 100
# Every hit up to this many is sorted; beyond it, a seeded random sample
# of this many: a page must not hold a million lines to sort them.
MAX_HITS = 20_000
WIDTH = 20
WIDTHS = range(5, 81)
COLUMNS = ("article_id", "title", "date", "author", "url", "left", "hit", "right", "offset")


@dataclass
class Hit:
    order: int  # the article's place in date order
    article_id: int
    start: int
    end: int
    left: str  # folded, nearest character first
    right: str  # folded


@dataclass
class Hits:
    total: int  # every hit of the view, sampled or not
    articles: int  # the articles with at least one
    hits: list  # the hits shown, in the view's order
    sampled: bool
    max_hits: int


def int_arg(args, name, default, allowed=None):
    """An integer parameter, checked; a bad one is a 400 that names it."""
    value = args.get(name)
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"{name}: {value!r} is not a whole number") from None
    if allowed is not None and number not in allowed:
        raise BadRequest(f"{name}: {number} is not between {allowed.start} and {allowed.stop - 1}")
    return number


class _Reservoir:
    """A seeded random sample of ``size`` items of a stream whose length is
    known only at its end (Li's algorithm L): the same seed and stream give
    the same sample, and runs of items it would not take cost nothing."""

    def __init__(self, size, seed):
        self.size, self.seen = size, 0
        self.rng = random.Random(seed)
        self.weight = math.exp(math.log(self._uniform()) / size)
        self.next = size + self._gap()

    def _uniform(self):
        return 1.0 - self.rng.random()  # in (0, 1]: never log(0)

    def _gap(self):
        return math.floor(math.log(self._uniform()) / math.log(1.0 - self.weight))

    def take(self, count):
        """Of the next ``count`` items, those the sample takes: (index among
        the ``count``, slot of the sample it goes to), in order."""
        first, end = self.seen, self.seen + count
        taken = [(i - first, i) for i in range(first, min(end, self.size))]
        while self.next < end:
            taken.append((self.next - first, self.rng.randrange(self.size)))
            self.weight *= math.exp(math.log(self._uniform()) / self.size)
            self.next += self._gap() + 1
        self.seen = end
        return taken


def find_hits(conn, sel, width=WIDTH, sort="date", seed=0, context=None, max_hits=MAX_HITS):
    """Every hit of a selection's search in the articles it matches (a
    seeded sample of ``max_hits`` beyond that many), in the order of ``sort``.
    ``context``: only the hits with it in their ``width`` characters either side."""
    regex = query_regex(sel.q)
    literal = _literal(sel.q) if not context else None
    ids = matching_ids(conn, sel)
    context = fold(context).lower() if context else None
    sample = _Reservoir(max_hits, seed)
    kept = {}  # slot of the sample -> Hit
    total = articles = 0
    for order, (article_id, text) in enumerate(folded_texts(conn, ids)):
        spans = None
        if literal:
            # One word of Chinese: counted in C, its places found only in an
            # article the sample takes a hit of (a common character is in
            # every article, hundreds of times).
            count = text.count(literal)
        else:
            spans = [m.span() for m in regex.finditer(text) if m.end() > m.start()]
            if context:
                spans = [(s, e) for s, e in spans if _has_context(text, s, e, width, context)]
            count = len(spans)
        if not count:
            continue
        total += count
        articles += 1
        taken = sample.take(count)
        if taken and spans is None:
            spans = [m.span() for m in regex.finditer(text)]
        for i, slot in taken:
            start, end = spans[i]
            left = text[max(0, start - width) : start][::-1].lower()
            kept[slot] = Hit(order, article_id, start, end, left, text[end : end + width].lower())
    hits = sorted(kept.values(), key=lambda h: (h.order, h.start))
    return Hits(total, articles, sort_hits(hits, sort, seed), total > max_hits, max_hits)


def _literal(q):
    """The folded term of a search that is one run of Chinese characters,
    whose hits are exactly its occurrences; else None."""
    terms = query_terms(q)
    if len(terms) == 1 and CJK_RUN.fullmatch(terms[0]):
        return terms[0]
    return None


def _has_context(text, start, end, width, context):
    return context in text[max(0, start - width) : start].lower() or context in text[end : end + width].lower()


def sort_hits(hits, sort, seed):
    """Hits (given in date order) in the order of ``sort``: 1L and 2L by
    the characters left of the hit read outward from the first or second,
    1R and 2R the same to its right; ties stay in date order."""
    if sort == "random":
        hits = list(hits)
        random.Random(seed).shuffle(hits)
        return hits
    if sort == "date":
        return list(hits)
    side = "left" if sort.endswith("L") else "right"
    skip = int(sort[0]) - 1
    return sorted(hits, key=lambda h: getattr(h, side)[skip:] + "\0" + getattr(h, side)[:skip])


def lines(conn, hits, width):
    """The lines of ``hits``: each as the article's own characters."""
    texts = original_texts(conn, [h.article_id for h in hits])
    out = []
    for h in hits:
        row, text = texts[h.article_id]
        out.append(
            {
                **row,
                "left": text[max(0, h.start - width) : h.start],
                "hit": text[h.start : h.end],
                "right": text[h.end : h.end + width],
                "offset": h.start,
            }
        )
    return out


def view_args(request):
    """The concordance's own parameters, checked."""
    args = request.args
    sort = args.get("sort") or "date"
    if sort not in SORTS:
        raise BadRequest(f"sort: {sort!r} is not one of {', '.join(SORTS)}")
    return {
        "width": int_arg(args, "width", WIDTH, WIDTHS),
        "sort": sort,
        "seed": int_arg(args, "seed", 0),
        "page": int_arg(args, "page", 1, range(1, 10**6)),
        "context": (args.get("context") or "").strip() or None,
    }


def url(datasette, database, sel, extension="", **params):
    """The concordance of a selection, with ``params`` (None leaves one out)."""
    pairs = sel.args() + [(k, v) for k, v in params.items() if v not in (None, "")]
    return f"{datasette.urls.database(database)}/-/concordance{extension}?{urlencode(pairs)}"


def as_jsonl(rows):
    return "".join(json.dumps({c: row[c] for c in COLUMNS}, ensure_ascii=False) + "\n" for row in rows)


async def concordance_view(datasette, request):
    database, db = await archive_database(datasette, request)
    extension = request.url_vars.get("format") or ""
    try:
        sel = selection(request.args)
        options = view_args(request)
    except BadRequest as e:
        return refused(extension, str(e))
    if not sel.q:
        if extension:
            return refused(extension, "q: give a search, as ?q=國安法")
        return await _page(datasette, request, database, sel, options, None, [])
    max_hits = setting(datasette, "concordance_max_hits", MAX_HITS)
    width, sort, seed = options["width"], options["sort"], options["seed"]

    def compute(conn):
        found = find_hits(conn, sel, width, sort, seed, options["context"], max_hits)
        if extension:
            shown = found.hits
        else:
            start = (options["page"] - 1) * LINES_PER_PAGE
            shown = found.hits[start : start + LINES_PER_PAGE]
        # In batches: a download's 20,000 lines need as many articles' texts.
        rows = []
        for i in range(0, len(shown), 500):
            rows += lines(conn, shown[i : i + 500], width)
        return found, rows

    found, rows = await db.execute_fn(compute)
    if extension == ".csv":
        return Response(as_csv(rows, COLUMNS), content_type="text/csv; charset=utf-8")
    if extension == ".jsonl":
        return Response(as_jsonl(rows), content_type="application/x-ndjson; charset=utf-8")
    return await _page(datasette, request, database, sel, options, found, rows)


async def _page(datasette, request, database, sel, options, found, rows):
    page = options["page"]
    here = {k: options[k] for k in ("width", "sort", "context")}
    if options["sort"] == "random":
        here["seed"] = options["seed"]
    pages = math.ceil(len(found.hits) / LINES_PER_PAGE) if found else 0
    for row in rows:
        row["article_url"] = (
            datasette.urls.row(database, ARTICLES, row["article_id"])
            + "?"
            + urlencode({"hit": row["hit"], "before": row["left"][-8:]})
            + "#hkc-hit"
        )
    context = {
        "database": database,
        "sel": sel,
        "options": options,
        "found": found,
        "rows": rows,
        "sorts": SORTS,
        "filters": [(n, v) for n, v in sel.args() if n != "q"],
        "previous_url": url(datasette, database, sel, page=page - 1, **here) if page > 1 else None,
        "next_url": url(datasette, database, sel, page=page + 1, **here) if page < pages else None,
        "page_count": pages,
        "csv_url": url(datasette, database, sel, ".csv", **here),
        "jsonl_url": url(datasette, database, sel, ".jsonl", **here),
        "sort_urls": {s: url(datasette, database, sel, **{**here, "sort": s}) for s in SORTS},
        "search_url": f"{datasette.urls.table(database, ARTICLES)}?{urlencode(sel.table_args())}",
        "collocates_url": f"{datasette.urls.database(database)}/-/collocates?{urlencode(sel.args())}",
        "keywords_url": f"{datasette.urls.database(database)}/-/keywords?{urlencode(sel.args())}",
        "widths": (WIDTHS.start, WIDTHS.stop - 1),
    }
    return Response.html(await datasette.render_template("hkc_concordance.html", context, request=request))
