"""The words beside a search: /<database>/-/collocates?q=國安法 lists the
character n-grams that occur within ``window`` characters of its hits,
ranked by logDice (or by count, or log-likelihood); .csv gives the list.

The hits are the concordance's (the same sample beyond MAX_HITS), and a
collocate's ``hits`` is the number of concordance lines of that width
whose left or right context holds it, so the one page recounts the other.
"""

from urllib.parse import urlencode

import numpy as np
from datasette.utils.asgi import BadRequest, Response

from hkcnews.ngrams import count, ngrams_of
from hkcnews.site.archive_counts import archive_counts
from hkcnews.site.concordance import MAX_HITS, find_hits, int_arg
from hkcnews.site.concordance import url as concordance_url
from hkcnews.site.matches import archive_database, as_csv, as_written, refused, selection, setting
from hkcnews.terms import fold, query_terms

WINDOW = 10
WINDOWS = range(5, 41)
ORDERS = ("logdice", "count", "ll")
LIMIT = 100
# A collocate seen beside fewer hits is chance, not company.
MIN_HITS = 3
# A fragment with at least this share of a longer listed n-gram's count is that n-gram.
FRAGMENT_SHARE = 0.8
# The n-grams are ranked, and this many of the best go on to the fragment rule.
CANDIDATES = 2000
COLUMNS = ("collocate", "hits", "archive_documents", "logdice", "log_likelihood")


def g_squared(cells):
    """Dunning's G² of observed and expected counts, [(O, E)] (numbers or arrays)."""
    total = 0.0
    for observed, expected in cells:
        observed, expected = np.asarray(observed, dtype=np.float64), np.asarray(expected, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            total = total + np.where((observed > 0) & (expected > 0), observed * np.log(observed / expected), 0.0)
    return 2 * total


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
    char_ids, archive, characters, _, _ = archive_counts(conn)
    # Each hit's window is a "document" of its own: an n-gram's document
    # count is then the number of hits that have it beside them.
    codes, together, _ = count(char_ids, [h.left[::-1] + "\0" + h.right for h in found.hits])
    parts = {char_ids.code_of(g) for t in query_terms(sel.q) for g in ngrams_of(fold(t).lower())} - {None}
    documents = archive.lookup(codes)
    keep = (together >= MIN_HITS) & (documents > 0) & ~np.isin(codes, np.array(sorted(parts), dtype=np.uint64))
    codes, documents = codes[keep], documents[keep]
    f_xy = together[keep].astype(np.float64)
    f_y = archive.lookup(codes, "occurrences").astype(np.float64)
    f_x, n = float(len(found.hits)), float(characters)
    logdice = 14 + np.log2(2 * f_xy / (f_x + f_y))
    # The 2×2 table of Evert's collocation measures: a hit's window with or
    # without the n-gram, over every position of the archive.
    ll = g_squared(
        [
            (f_xy, f_x * f_y / n),
            (f_x - f_xy, f_x * (n - f_y) / n),
            (f_y - f_xy, (n - f_x) * f_y / n),
            (n - f_x - f_y + f_xy, (n - f_x) * (n - f_y) / n),
        ]
    )
    score = {"logdice": logdice, "count": f_xy, "ll": ll}[order]
    rows = [
        {
            "collocate": char_ids.text_of(codes[i]),
            "hits": int(f_xy[i]),
            "archive_documents": int(documents[i]),
            "logdice": round(float(logdice[i]), 3),
            "log_likelihood": round(float(ll[i]), 3),
        }
        for i in np.lexsort((-f_xy, -score))[:CANDIDATES]
    ]
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
        return Response(as_csv(rows, COLUMNS), content_type="text/csv; charset=utf-8")
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
