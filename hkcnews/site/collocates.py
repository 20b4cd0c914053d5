"""The words beside a search: /<database>/-/collocates?q=國安法 lists the
character n-grams that occur within ``window`` characters of its hits,
ranked by logDice (or by count, or log-likelihood); .csv gives the list.

The hits are the concordance's (the same sample beyond MAX_HITS), and a
collocate's ``hits`` is the number of concordance lines of that width
whose left or right context holds it, so the one page recounts the other.
"""

import csv
import io
import math
import weakref
from collections import Counter
from urllib.parse import urlencode

from datasette.utils.asgi import BadRequest, Response

from hkcnews.ngrams import CharIds, ngrams_of
from hkcnews.site.concordance import MAX_HITS, find_hits, int_arg
from hkcnews.site.concordance import url as concordance_url
from hkcnews.site.matches import archive_database, as_written, refused, selection, setting
from hkcnews.terms import fold, query_terms

WINDOW = 10
WINDOWS = range(5, 41)
ORDERS = ("logdice", "count", "ll")
LIMIT = 100
# A collocate seen beside fewer hits is chance, not company.
MIN_HITS = 3
# A fragment with at least this share of a longer listed n-gram's count is that n-gram.
FRAGMENT_SHARE = 0.8
COLUMNS = ("collocate", "hits", "archive_documents", "logdice", "log_likelihood")
CHARS_KEY = "ngram_chars"
CHARACTERS_KEY = "text_characters"

_ARCHIVES = weakref.WeakKeyDictionary()


def archive_stats(conn):
    """(CharIds, characters in all texts) of the connection's archive."""
    info = dict(conn.execute("select key, value from build_info where key in (?, ?)", [CHARS_KEY, CHARACTERS_KEY]))
    return CharIds(info.get(CHARS_KEY, "")), int(info.get(CHARACTERS_KEY) or 0)


def archive_counts(conn, char_ids, ngrams):
    """{n-gram: (documents, occurrences)} of the archive, for those it keeps."""
    codes = {}
    for ngram in ngrams:
        code = char_ids.code_of(ngram)
        if code is not None:
            codes[code] = ngram
    found = {}
    keys = list(codes)
    for i in range(0, len(keys), 500):
        batch = keys[i : i + 500]
        for code, documents, occurrences in conn.execute(
            f"select code, documents, occurrences from ngrams where code in ({', '.join('?' * len(batch))})", batch
        ):
            found[codes[code]] = (documents, occurrences)
    return found


def log_likelihood(cells):
    """Dunning's G² of observed counts and the expected ones, [(O, E)]."""
    return 2 * sum(o * math.log(o / e) for o, e in cells if o > 0 and e > 0)


def without_fragments(items, count):
    """``items`` (n-grams) without any that a longer one of them contains
    with at least FRAGMENT_SHARE of its count."""
    longer_ones = {}
    for item in items:
        for size in range(2, len(item)):
            for i in range(len(item) - size + 1):
                longer_ones.setdefault(item[i : i + size], []).append(item)
    return [
        item
        for item in items
        if not any(count[longer] >= FRAGMENT_SHARE * count[item] for longer in longer_ones.get(item, ()))
    ]


def collocates(conn, sel, window=WINDOW, order="logdice", seed=0, max_hits=MAX_HITS):
    """(found hits, [collocate rows]) of a selection's search."""
    found = find_hits(conn, sel, window, "date", seed, None, max_hits)
    terms = [fold(t).lower() for t in query_terms(sel.q)]
    together = Counter()
    for hit in found.hits:
        near = ngrams_of(hit.left[::-1]) | ngrams_of(hit.right)
        together.update(g for g in near if not any(g in t for t in terms))
    candidates = [g for g, n in together.items() if n >= MIN_HITS]
    char_ids, characters = archive_stats(conn)
    counts = archive_counts(conn, char_ids, candidates)
    f_x = len(found.hits)
    rows = []
    for g in candidates:
        if g not in counts:
            continue  # in fewer than MIN_DOCUMENTS articles of the archive
        documents, f_y = counts[g]
        f_xy = together[g]
        # The 2×2 table of Evert's collocation measures: a hit's window
        # with or without the n-gram, over every position of the archive.
        n = characters
        cells = [
            (f_xy, f_x * f_y / n),
            (f_x - f_xy, f_x * (n - f_y) / n),
            (f_y - f_xy, (n - f_x) * f_y / n),
            (n - f_x - f_y + f_xy, (n - f_x) * (n - f_y) / n),
        ]
        rows.append(
            {
                "collocate": g,
                "hits": f_xy,
                "archive_documents": documents,
                "logdice": round(14 + math.log2(2 * f_xy / (f_x + f_y)), 3),
                "log_likelihood": round(log_likelihood(cells), 3),
            }
        )
    key = {"logdice": "logdice", "count": "hits", "ll": "log_likelihood"}[order]
    rows.sort(key=lambda r: (-r[key], -r["hits"], r["collocate"]))
    hits = {r["collocate"]: r["hits"] for r in rows}
    kept = set(without_fragments([r["collocate"] for r in rows], hits))
    rows = [r for r in rows if r["collocate"] in kept][:LIMIT]
    written = as_written(conn, {r["collocate"]: _first_place(found.hits, r["collocate"]) for r in rows})
    for row in rows:
        row["collocate"] = written.get(row["collocate"], row["collocate"])
    return found, rows


def _first_place(hits, ngram):
    """(article_id, offset, length) of the first hit's neighbour ``ngram``."""
    for hit in hits:
        if ngram in hit.right:
            return hit.article_id, hit.end + hit.right.index(ngram), len(ngram)
        left = hit.left[::-1]
        if ngram in left:
            return hit.article_id, hit.start - len(left) + left.index(ngram), len(ngram)
    raise ValueError(f"{ngram} is beside no hit")


def as_csv(rows):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)  # CRLF, as Datasette's CSV
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


async def collocates_view(datasette, request):
    database, db = await archive_database(datasette, request)
    extension = request.url_vars.get("format") or ""
    try:
        sel = selection(request.args)
        window = int_arg(request.args, "window", WINDOW, WINDOWS)
        seed = int_arg(request.args, "seed", 0)
        order = request.args.get("by") or "logdice"
        if order not in ORDERS:
            raise BadRequest(f"by: {order!r} is not one of {', '.join(ORDERS)}")
    except BadRequest as e:
        return refused(extension, str(e))
    if not sel.q and extension:
        return refused(extension, "q: give a search, as ?q=國安法")
    found, rows = None, []
    if sel.q:
        max_hits = setting(datasette, "concordance_max_hits", MAX_HITS)
        found, rows = await db.execute_fn(lambda conn: collocates(conn, sel, window, order, seed, max_hits))
    if extension == ".csv":
        return Response(as_csv(rows), content_type="text/csv; charset=utf-8")
    base = datasette.urls.database(database)
    own = [("window", window)] + ([("by", order)] if order != "logdice" else [])
    for row in rows:
        row["concordance_url"] = concordance_url(datasette, database, sel, width=window, context=row["collocate"])
    context = {
        "database": database,
        "sel": sel,
        "found": found,
        "rows": rows,
        "window": window,
        "order": order,
        "orders": ORDERS,
        "windows": (WINDOWS.start, WINDOWS.stop - 1),
        "filters": [(n, v) for n, v in sel.args() if n != "q"],
        "order_urls": {
            o: f"{base}/-/collocates?{urlencode(sel.args() + [('window', window), ('by', o)])}" for o in ORDERS
        },
        "csv_url": f"{base}/-/collocates.csv?{urlencode(sel.args() + own)}",
        "concordance_url": concordance_url(datasette, database, sel),
        "keywords_url": f"{base}/-/keywords?{urlencode(sel.args())}",
        "search_url": f"{datasette.urls.table(database, 'articles')}?{urlencode(sel.table_args())}",
        "min_hits": MIN_HITS,
        "limit": LIMIT,
    }
    return Response.html(await datasette.render_template("hkc_collocates.html", context, request=request))
