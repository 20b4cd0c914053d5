"""Time the concordance, collocates and keywords pages over real terms.

    python bench/language.py --db news.db [--stock-db stock.db] [--terms 10]

Serves the bundle's database with `python -m hkcnews.serve` (2 workers),
draws terms of 1, 2, 3 and 4 characters from the database's own n-grams
(seeded: the same terms on every run of the same file), and requests each
page once as computed (a cookie lets it past the page cache) and once more
as the cache serves it; one request at a time. Prints one Markdown table:
per page and term length, the median and p95 of each, and the hits the
terms have.

Stock Datasette has no such pages. Beside them, with --stock-db (a file
bench/stock.py built from the same files), is what a researcher counting
hits on stock would run, an SQL count of the articles whose body is LIKE
the term, through the same kind of server with the same settings. Run by
hand; nothing here is a test.
"""

import argparse
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
from run import COMPUTE, cpu_model, free_port, read_whole  # noqa: E402

SEED = 20
PAGES = ("concordance", "collocates", "keywords")


def draw_terms(db, per_length, seed=SEED):
    """{length: [terms]}: one-character terms among the 40 most frequent
    characters, longer ones among the n-grams in at least 20 articles."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        chars = conn.execute("select value from build_info where key = 'ngram_chars'").fetchone()[0]
        rng = random.Random(seed)
        terms = {1: rng.sample(list(chars[:40]), per_length)}
        for length in (2, 3, 4):
            pool = [
                g
                for (g,) in conn.execute(
                    "select ngram from ngrams where length(ngram) = ? and documents >= 20 order by ngram", [length]
                )
            ]
            terms[length] = rng.sample(pool, min(per_length, len(pool)))
        return terms
    finally:
        conn.close()


def timed(client, url, cookies=None):
    start = time.perf_counter()
    response = client.get(url, cookies=cookies)
    elapsed = time.perf_counter() - start
    if response.status_code != 200:
        raise SystemExit(f"{url}: {response.status_code} {response.text[:200]}")
    return elapsed, response


def percentile(values, share):
    values = sorted(values)
    return values[min(len(values) - 1, round(share * (len(values) - 1)))]


def cell(values):
    return f"{statistics.median(values) * 1000:.0f} / {percentile(values, 0.95) * 1000:.0f}"


def hits_of(html):
    import re

    found = re.search(r"<strong>([\d,]+) hits in ([\d,]+) articles</strong>", html)
    return int(found.group(1).replace(",", "")) if found else 0


def measure_bundle(db, terms, work):
    port = free_port()
    results = {}  # (page, length) -> {"computed": [], "cached": [], "hits": []}
    with running(bundle_command(db, port), port, work / "bundle.log") as url, httpx.Client(timeout=120) as client:
        for length, group in terms.items():
            for term in group:
                for page in PAGES:
                    address = f"{url}/news/-/{page}?{urlencode({'q': term})}"
                    computed, response = timed(client, address, COMPUTE)
                    timed(client, address)  # computed again, and kept
                    cached, _ = timed(client, address)
                    entry = results.setdefault((page, length), {"computed": [], "cached": [], "hits": []})
                    entry["computed"].append(computed)
                    entry["cached"].append(cached)
                    if page == "concordance":
                        entry["hits"].append(hits_of(response.text))
    return results


def measure_stock(db, terms, work):
    port = free_port()
    results = {}
    with running(stock_command(db, port), port, work / "stock.log") as url, httpx.Client(timeout=120) as client:
        name = Path(db).stem
        for length, group in terms.items():
            for term in group:
                sql = "select count(*) from articles where body like '%' || :term || '%'"
                elapsed, _ = timed(client, f"{url}/{name}.json?{urlencode({'sql': sql, 'term': term})}")
                results.setdefault(length, []).append(elapsed)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="a database build_db.py made (served as news)")
    parser.add_argument("--stock-db", help="the stock database of the same files (bench/stock.py)")
    parser.add_argument("--terms", type=int, default=10, help="terms of each length (default 10)")
    parser.add_argument("--work", default="/tmp/hkcnews-bench-language", help="folder for the servers' logs")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if Path(args.db).name != "news.db":
        raise SystemExit("--db: the file must be called news.db (the pages' addresses are /news/-/…)")
    terms = draw_terms(args.db, args.terms)
    read_whole(args.db)
    bundle = measure_bundle(args.db, terms, work)
    stock = measure_stock(args.stock_db, terms, work) if args.stock_db else {}
    print(f"Machine: {cpu_model()}, {len(terms[1])} terms of each length (seed {SEED}); ms, median / p95")
    print()
    print("| page | term length | hits (median, max) | computed | from the cache | stock: count LIKE |")
    print("|---|---|---|---|---|---|")
    for page in PAGES:
        for length in terms:
            entry = bundle[(page, length)]
            hits = bundle[("concordance", length)]["hits"]
            stock_cell = cell(stock[length]) if length in stock else "–"
            print(
                f"| {page} | {length} | {statistics.median(hits):,.0f}, {max(hits):,} | {cell(entry['computed'])} "
                f"| {cell(entry['cached'])} | {stock_cell} |"
            )
    print()
    print("Terms:", "; ".join(f"{n}: {' '.join(t)}" for n, t in terms.items()))


if __name__ == "__main__":
    main()
