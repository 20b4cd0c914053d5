"""Time the passages a search of the articles table shows, and the pages they are on.

    python bench/passages.py --db news.db [--stock-db stock.db] [--terms 10] [--profile]

The requirement: a results page of 50 rows with passages adds no more than
20 ms to the page. Queries, drawn with a seed (the same on every run of the
same file): terms of 1, 2, 3 and 4 characters from the database's own
n-grams (bench/language.py's draw_terms), two-term queries `A B` and
`A OR B` (two 2-character n-grams in at least 1,000 articles each), and
the corpus's English words (table words) when it has some.

1. The passages' own cost, in-process: for each query, the ids of the
   first 50 rows of the table page (its search, newest first), then
   excerpts.passages() over them, 5 times, on a read-only connection
   memory-mapped as hkcnews/site/connections.py maps it: its wall time and
   its thread's CPU time (which other work on the machine does not
   inflate). Split into reading the bodies and figures (the two queries
   passages() runs) and computing the passages from rows already read
   (passage_text + passage).
2. Whole pages over HTTP, one request at a time, each computed (a cookie
   lets it past the page cache): `python -m hkcnews.serve` (2 workers),
   /news/articles?_search=q (HTML, 50 rows with passages) and
   /news/articles.json?_search=q&_size=50 (the snippet column); beside
   them, with --stock-db (bench/stock.py's database of the same files),
   stock Datasette with the same settings serving the same page shape,
   /stock/articles?_search=q&_size=50&_sort_desc=date and its JSON. Stock's
   search finds whole words only (a run of CJK characters is one word), so
   its result sets differ, mostly empty for Chinese terms: it is the page
   cost being compared, and its row counts are printed beside it.

Prints Markdown tables: ms, median / p95 / p99. With --profile, the
cProfile of passages() for every kind whose median or p95 is above the
target, and for every kind the CPU time of each stage of passage_text and
passage. Run by hand; nothing here is a test.
"""

import argparse
import cProfile
import io
import pstats
import random
import sqlite3
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from busy_day import bundle_command, running, stock_command  # noqa: E402
from language import SEED, draw_terms, percentile, timed  # noqa: E402
from run import COMPUTE, cpu_model, free_port, read_whole  # noqa: E402

from hkcnews.site.connections import MMAP_BYTES  # noqa: E402
from hkcnews.site.excerpts import (  # noqa: E402
    _MARKDOWN_MARKS,
    PASSAGE_CHARS,
    _best_start,
    bodies_and_figures,
    passage,
    passage_text,
    passages,
    query_regex,
)
from hkcnews.terms import fts_query, visible_text, without_headline  # noqa: E402

ROWS = 50
REPEATS = 5  # passages() per query, in-process
HTTP_REPEATS = 3  # requests per query and page
TARGET_MS = 20
# Two-term queries pair 2-character n-grams this common, so that both terms
# are on many pages (two rare ones seldom are).
PAIR_DOCUMENTS = 1000
PAGE_IDS = (
    "select articles.id from articles join articles_fts on articles_fts.rowid = articles.id "
    "where articles_fts match ? order by articles.date desc, articles.id limit ?"
)


def draw_queries(db, per_kind, seed=SEED):
    """{kind: [queries]}, seeded."""
    terms = draw_terms(db, per_kind, seed)
    queries = {f"{n} char{'s' if n > 1 else ''}": list(group) for n, group in terms.items()}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        common = [
            g
            for (g,) in conn.execute(
                "select ngram from ngrams where length(ngram) = 2 and documents >= ? order by ngram", [PAIR_DOCUMENTS]
            )
        ]
        words = [w for (w,) in conn.execute("select word from words order by word")]
    finally:
        conn.close()
    rng = random.Random(seed)
    pairs = [rng.sample(common, 2) for _ in range(min(per_kind, len(common) // 2))]
    queries["A B"] = [f"{a} {b}" for a, b in pairs]
    queries["A OR B"] = [f"{a} OR {b}" for a, b in pairs]
    if words:
        queries["English word"] = rng.sample(words, min(per_kind, len(words)))
    return queries


def load_average():
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def connect(db):
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, check_same_thread=False)
    conn.execute(f"pragma mmap_size = {MMAP_BYTES}")
    return conn


def page_ids(conn, query):
    return [i for (i,) in conn.execute(PAGE_IDS, [fts_query(query), ROWS])]


def read_rows(conn, ids):
    """[(body, figures)] as passages() reads them."""
    return list(bodies_and_figures(conn, ids).values())


def seconds(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def measure_passages(db, queries):
    """{kind: {"total", "cpu", "read", "compute": [s], "rows", "chars": [n], "ids": {query: ids}}}: wall
    times, and the CPU time of passages() (what load on the machine does not inflate)."""
    conn = connect(db)
    results = {}
    try:
        for kind, group in queries.items():
            entry = results.setdefault(
                kind, {"total": [], "cpu": [], "read": [], "compute": [], "rows": [], "chars": [], "ids": {}}
            )
            for query in group:
                ids = page_ids(conn, query)
                entry["rows"].append(len(ids))
                entry["ids"][query] = ids
                if not ids:
                    continue
                for _ in range(REPEATS):
                    cpu = time.thread_time()
                    entry["total"].append(seconds(passages, conn, query, ids)[0])
                    entry["cpu"].append(time.thread_time() - cpu)
                entry["chars"].append(sum(len(passage_text(b, f)) for b, f in read_rows(conn, ids)))
                for _ in range(REPEATS):
                    read, rows = seconds(read_rows, conn, ids)
                    entry["read"].append(read)
                    compute, _ = seconds(lambda rows=rows, q=query: [passage(passage_text(b, f), q) for b, f in rows])
                    entry["compute"].append(compute)
    finally:
        conn.close()
    return results


def over_target(values):
    return bool(values) and (
        statistics.median(values) * 1000 > TARGET_MS or percentile(values, 0.95) * 1000 > TARGET_MS
    )


STAGES = (
    ("the body's visible text", lambda body, figures, query, x: visible_text(without_headline(body or ""))),
    ("Markdown marks, spaces", lambda body, figures, query, x: " ".join(_MARKDOWN_MARKS.sub("", x).split())),
    (
        "figures",
        lambda body, figures, query, x: " ".join(filter(None, [x, *(" ".join(_joined(f).split()) for f in figures)])),
    ),
    ("query_regex (written)", lambda body, figures, query, x: (x, query_regex(query, written=True))),
    (
        "finding the hits",
        lambda body, figures, query, x: (x[0], [m.span() for m in x[1].finditer(x[0]) if m.end() > m.start()]),
    ),
    ("choosing the window", lambda body, figures, query, x: (*x, _best_start(x[0], x[1], PASSAGE_CHARS))),
)


def _joined(figure):
    return " ".join(filter(None, figure))


def stages(db, entry):
    """{stage: [CPU s per page]}: passage_text and passage taken apart, on
    rows already read (the marking and escaping of the window, left out, is
    small)."""
    conn = connect(db)
    out = {name: [] for name, _ in STAGES}
    try:
        for query, ids in entry["ids"].items():
            rows = read_rows(conn, ids) if ids else []
            for _ in range(REPEATS if rows else 0):
                spent = dict.fromkeys(out, 0.0)
                for body, figures in rows:
                    x = None
                    for name, step in STAGES:
                        start = time.thread_time()
                        x = step(body, figures, query, x)
                        spent[name] += time.thread_time() - start
                for name, value in spent.items():
                    out[name].append(value)
    finally:
        conn.close()
    return out


def profile(db, entry, top=10):
    """The cProfile of passages() over a kind's queries, REPEATS times each."""
    conn = connect(db)
    profiler = cProfile.Profile()
    try:
        profiler.enable()
        for query, ids in entry["ids"].items():
            for _ in range(REPEATS):
                if ids:
                    passages(conn, query, ids)
        profiler.disable()
    finally:
        conn.close()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def measure_http(command, db, name, queries, work, stock=False, ids=None):
    """{(kind, page): {"times": [s], "rows": [n]}} for the HTML and JSON pages;
    the bundle's rows checked against ``ids`` ({query: ids}), those timed in-process."""
    port = free_port()
    results = {}
    extra = {"_size": ROWS, "_sort_desc": "date"} if stock else {}
    with (
        running(command(db, port), port, work / f"{name}.log") as url,
        httpx.Client(timeout=120) as client,
    ):
        timed(client, f"{url}/{name}/articles", COMPUTE)  # warm-up
        for kind, group in queries.items():
            for query in group:
                html_url = f"{url}/{name}/articles?{urlencode({'_search': query, **extra})}"
                json_url = f"{url}/{name}/articles.json?{urlencode({'_search': query, '_size': ROWS, **extra})}"
                for page, address in (("HTML", html_url), ("JSON", json_url)):
                    entry = results.setdefault((kind, page), {"times": [], "rows": []})
                    for _ in range(HTTP_REPEATS):
                        elapsed, response = timed(client, address, COMPUTE)
                        entry["times"].append(elapsed)
                    if page == "JSON":
                        data = response.json()
                        entry["rows"].append(len(data["rows"]))
                        if not stock and data["rows"]:
                            if "snippet" not in data["columns"]:
                                raise SystemExit(f"{json_url}: no snippet column")
                            if ids is not None and [row[0] for row in data["rows"]] != ids[query]:
                                raise SystemExit(f"{json_url}: not the rows of bench/passages.py's own query")
    return results


def ms(values):
    if not values:
        return "–"
    return " / ".join(
        f"{v * 1000:.1f}" for v in (statistics.median(values), *map(percentile, [values] * 2, (0.95, 0.99)))
    )


def rows_cell(rows):
    return f"{statistics.median(rows):.0f} ({min(rows)}–{max(rows)})" if rows else "–"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="a database build_db.py made (served as news)")
    parser.add_argument("--stock-db", help="the stock database of the same files (bench/stock.py)")
    parser.add_argument("--terms", type=int, default=10, help="queries of each kind (default 10)")
    parser.add_argument("--work", default="/tmp/hkcnews-bench-passages", help="folder for the servers' logs")
    parser.add_argument(
        "--profile", action="store_true", help="time the passages' stages; cProfile the kinds above the target"
    )
    parser.add_argument("--no-http", action="store_true", help="only the in-process measurements")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if Path(args.db).name != "news.db":
        raise SystemExit("--db: the file must be called news.db (the pages' addresses are /news/…)")
    load_before = load_average()
    queries = draw_queries(args.db, args.terms)
    read_whole(args.db)
    own = measure_passages(args.db, queries)
    bundle = stock = {}
    if not args.no_http:
        ids = {q: i for entry in own.values() for q, i in entry["ids"].items()}
        bundle = measure_http(bundle_command, args.db, "news", queries, work, ids=ids)
        if args.stock_db:
            read_whole(args.stock_db)
            stock = measure_http(stock_command, args.stock_db, Path(args.stock_db).stem, queries, work, stock=True)

    print(f"Load average before / after: {load_before} / {load_average()}")
    print(
        f"Machine: {cpu_model()}, SQLite {sqlite3.sqlite_version}, {args.terms} queries of each kind "
        f"(seed {SEED}); ms, median / p95 / p99"
    )
    print()
    print(f"The passages' own cost, in-process, per page of up to {ROWS} rows ({REPEATS} runs of each query):")
    print()
    print(
        "| query | rows (median, range) | passages() | its CPU time | reading bodies + figures "
        "| computing the passages |"
    )
    print("|---|---|---|---|---|---|")
    for kind, entry in own.items():
        print(
            f"| {kind} | {rows_cell(entry['rows'])} | {ms(entry['total'])} | {ms(entry['cpu'])} "
            f"| {ms(entry['read'])} | {ms(entry['compute'])} |"
        )
    if bundle:
        print()
        print(f"Whole pages over HTTP, each computed, {HTTP_REPEATS} requests of each query and page:")
        print()
        print("| query | page | bundle (50 rows with passages) | stock | bundle / stock (medians) | stock rows |")
        print("|---|---|---|---|---|---|")
        for kind in queries:
            for page in ("HTML", "JSON"):
                ours = bundle[(kind, page)]["times"]
                theirs = stock.get((kind, page), {})
                ratio = f"{statistics.median(ours) / statistics.median(theirs['times']):.2f}" if theirs else "–"
                stock_rows = rows_cell(theirs.get("rows", [])) if page == "JSON" and theirs else ""
                print(f"| {kind} | {page} | {ms(ours)} | {ms(theirs.get('times', []))} | {ratio} | {stock_rows} |")
    print()
    slow = [kind for kind, entry in own.items() if over_target(entry["total"])]
    print(
        f"Target: passages() of a {ROWS}-row page within {TARGET_MS} ms, median and p95:",
        "met for every kind" if not slow else f"missed for {', '.join(slow)}",
    )
    print()
    print("Queries:", "; ".join(f"{kind}: {', '.join(group)}" for kind, group in queries.items()))
    if args.profile:
        print()
        print("Where a page's passages spend their CPU time, ms, median per page:")
        print()
        print("| query | characters per page | " + " | ".join(name for name, _ in STAGES) + " |")
        print("|---|---|" + "---|" * len(STAGES))
        for kind in (k for k, entry in own.items() if entry["chars"]):
            spent = stages(args.db, own[kind])
            chars = statistics.median(own[kind]["chars"])
            cells = " | ".join(f"{statistics.median(v) * 1000:.1f}" for v in spent.values())
            print(f"| {kind} | {chars:,.0f} | {cells} |")
        for kind in slow:
            print()
            print(f"cProfile of passages(), {kind}:")
            print(profile(args.db, own[kind]))


if __name__ == "__main__":
    main()
