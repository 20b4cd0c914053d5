"""Measure the bundle against stock Datasette, side by side, in one run.

    python bench/run.py --articles 100000          # synthetic articles (bench/corpus.py)
    python bench/run.py --seeds ../shared/hkcnews-sample/articles

Builds both databases from the same files, serves each with `datasette
serve` on a loopback port (the bundle through hkcnews.serve, stock with
default settings), sends the same requests to both and prints one Markdown
table: build time and size, median and p95 of each request, the streamed CSV,
and search exactness against LIKE. Run by hand; nothing here is a test.
"""
import argparse
import csv
import io
import os
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from corpus import NAMES, write_corpus  # noqa: E402
from datasette.utils import tilde_encode  # noqa: E402
from hkcnews.serve import datasette_args, ensure_inspected  # noqa: E402
from hkcnews.terms import _CJK_RUN, fold, fts_query, visible_text  # noqa: E402

BIN = Path(sys.executable).parent


def cpu_model():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return sys.platform


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_MEASURE = (
    "import resource, subprocess, sys; "
    "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def timed_run(args):
    """Run a command; returns (seconds, peak RSS in MB of its largest process)."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _MEASURE, *args], check=True, capture_output=True, text=True)
    return time.perf_counter() - start, int(out.stdout.split()[-1]) / 1024


@contextmanager
def serving(args, port):
    process = subprocess.Popen([str(BIN / "datasette"), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                httpx.get(f"http://127.0.0.1:{port}/-/versions.json", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def timings(client, urls):
    """Median and p95 in ms over the given URLs (one request each, after one warm-up)."""
    client.get(urls[0])
    times, statuses, timed_out = [], set(), False
    for url in urls:
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        statuses.add(response.status_code)
        timed_out |= "timed out" in response.text or '"facets_timed_out": ["' in response.text
    times.sort()
    return {"median": statistics.median(times), "p95": times[min(len(times) - 1, int(len(times) * 0.95))],
            "status": statuses, "timed_out": timed_out}


def stream_csv(client, url):
    """Time to first byte (ms) and rows per second of a streamed CSV."""
    start = time.perf_counter()
    first, chunks = None, []
    with client.stream("GET", url) as response:
        for chunk in response.iter_bytes():
            if first is None:
                first = (time.perf_counter() - start) * 1000
            chunks.append(chunk)
    seconds = time.perf_counter() - start
    rows = sum(1 for _ in csv.reader(io.StringIO(b"".join(chunks).decode("utf-8")))) - 1
    return first, rows, rows / seconds


def folded_documents(db):
    """Folded text a reader sees, per article, for the LIKE oracle."""
    conn = sqlite3.connect(db)
    captions = {}
    for article_id, text in conn.execute(
        "select article_id, coalesce(caption, '') || ' ' || coalesce(credit, '') || ' ' || coalesce(alt, '') from figures"
    ):
        captions.setdefault(article_id, []).append(text)
    docs = {
        article_id: fold("\n".join([title or "", visible_text(body or "")] + captions.get(article_id, [])))
        for article_id, title, body in conn.execute("select id, title, body from articles")
    }
    conn.close()
    return docs


def sample_queries(docs, count, lengths, seed=7):
    rnd = random.Random(seed)
    texts = list(docs.values())
    queries = []
    while len(queries) < count:
        runs = [r for r in _CJK_RUN.findall(rnd.choice(texts)) if len(r) >= max(lengths)]
        if runs:
            run = rnd.choice(runs)
            length = rnd.choice(lengths)
            start = rnd.randrange(len(run) - length + 1)
            queries.append(run[start : start + length])
    return queries


def exactness(docs, bundle_db, stock_db, queries):
    bundle = sqlite3.connect(bundle_db)
    stock = sqlite3.connect(stock_db)
    from datasette.utils import escape_fts

    stock_docs = {path: (title or "") + "\n" + (body or "") for path, title, body in stock.execute("select path, title, body from articles")}
    bundle_exact = stock_exact = 0
    for q in queries:
        folded = fold(q)
        expected = {i for i, d in docs.items() if folded in d}
        got = {r[0] for r in bundle.execute("select rowid from articles_fts where articles_fts match ?", [fts_query(q)])}
        bundle_exact += got == expected
        stock_expected = {p for p, d in stock_docs.items() if q in d}
        stock_got = {r[0] for r in stock.execute(
            "select articles.path from articles join articles_fts on articles_fts.rowid = articles.rowid "
            "where articles_fts match ?", [escape_fts(q)])}
        stock_exact += stock_got == stock_expected
    return bundle_exact / len(queries), stock_exact / len(queries)


def request_plan(db_name, docs, row_path, bundle):
    """[(label, [urls])]: the same requests for either system."""
    rnd = random.Random(11)
    by_length = {n: sample_queries(docs, 20, [n], seed=n) for n in (1, 2, 3, 4)}
    english = [rnd.choice(NAMES).split()[-1].strip("-0123456789") or "Biden" for _ in range(20)]
    base = f"/{db_name}"
    q = lambda s: quote(s)  # noqa: E731
    plan = [
        ("articles table page", [f"{base}/articles"] * 20),
        *[(f"search, {n}-character Chinese", [f"{base}/articles?_search={q(s)}" for s in by_length[n]]) for n in (1, 2, 3, 4)],
        ("search, English word", [f"{base}/articles?_search={q(s)}" for s in english]),
        ("tag facet, all rows", [f"{base}/articles?_facet_array=tags"] * 20),
        ("tag facet, search result", [f"{base}/articles?_search={q(s)}&_facet_array=tags" for s in by_length[2]]),
        ("category facet", [f"{base}/articles?_facet=category"] * 20),
        ("author facet", [f"{base}/articles?_facet=author"] * 20),
        ("article row page", [f"{base}/articles/{p}" for p in row_path]),
        ("CSV link of a search page", [f"{base}/articles.csv?_search={q(s)}&_size=max" for s in by_length[2]]),
        ("/-/search page", [f"/-/search?q={q(s)}" for s in by_length[2]]),
    ]
    if bundle:
        # Stock has neither a year column nor canned queries.
        plan.insert(-4, ("year facet", [f"{base}/articles?_facet=year"] * 20))
        plan.insert(-2, ("canned search query", [f"{base}/search?q={q(s)}" for s in by_length[2]]))
    return plan


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=20000, help="synthetic articles to generate")
    parser.add_argument("--seeds", type=Path, help="a folder of real articles instead")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/hkcnews-bench"))
    parser.add_argument("--exactness", type=int, default=200, help="random substrings to check")
    args = parser.parse_args()

    work = args.workdir
    seeds = args.seeds
    if seeds is None:
        seeds = work / f"corpus-{args.articles}"
        if not (seeds / ".complete").exists():
            print(f"writing {args.articles:,} synthetic articles to {seeds}", file=sys.stderr)
            write_corpus(args.articles, seeds)
    (work / "bundle").mkdir(parents=True, exist_ok=True)
    (work / "stock").mkdir(parents=True, exist_ok=True)
    bundle_db, stock_db = work / "bundle" / "news.db", work / "stock" / "stock.db"
    bundle_db.unlink(missing_ok=True)

    build_bundle = [sys.executable, str(ROOT / "build_db.py"), "--seeds", str(seeds), "--db", str(bundle_db), "--skip-invalid"]
    print("building the bundle", file=sys.stderr)
    bundle_seconds, bundle_rss = timed_run(build_bundle)
    print("building stock", file=sys.stderr)
    stock_seconds, stock_rss = timed_run([sys.executable, str(HERE / "stock.py"), str(seeds), str(stock_db)])

    # One article changed: the rebuild must notice it and only it.
    articles = sorted(seeds.rglob("*.md"))
    changed = articles[len(articles) // 2]
    original = changed.read_bytes()
    try:
        changed.write_bytes(original.replace("。".encode(), "。 ".encode(), 1))
        # Let the disk finish writing the two builds first: a rebuild comes
        # long after the last build, not while the page cache still flushes it.
        os.sync()
        rebuild_seconds, _ = timed_run(build_bundle)
    finally:
        changed.write_bytes(original)
        timed_run(build_bundle)

    count = sqlite3.connect(bundle_db).execute("select count(*) from articles").fetchone()[0]
    docs = folded_documents(bundle_db)
    bundle_ids = [r[0] for r in sqlite3.connect(bundle_db).execute("select id from articles order by random() limit 20")]
    stock_paths = [tilde_encode(r[0]) for r in sqlite3.connect(stock_db).execute("select path from articles order by random() limit 20")]

    ensure_inspected(bundle_db, str(BIN / "datasette"))
    # A search with thousands of hits, for the streamed CSV.
    common = max(sample_queries(docs, 30, [1], seed=3), key=lambda s: sum(s in d for d in list(docs.values())[:2000]))
    results = {}
    for name, db, rows, bundle in (("bundle", bundle_db, bundle_ids, True), ("stock", stock_db, stock_paths, False)):
        port = free_port()
        serve_args = datasette_args(db, port=port) if bundle else ["serve", str(db), "--port", str(port)]
        plan = request_plan(db.stem, docs, rows, bundle)
        with serving(serve_args, port) as url, httpx.Client(base_url=url, timeout=60) as client:
            print(f"requests to {name}", file=sys.stderr)
            results[name] = {label: timings(client, urls) for label, urls in plan}
            results[name]["stream"] = stream_csv(client, f"/{db.stem}/articles.csv?_search={quote(common)}&_stream=on&_size=max")

    print("checking exactness", file=sys.stderr)
    queries = sample_queries(docs, args.exactness, [1, 2, 3, 4, 5, 6], seed=5)
    bundle_exact, stock_exact = exactness(docs, bundle_db, stock_db, queries)

    mb = lambda p: p.stat().st_size / 1e6  # noqa: E731
    lines = [
        f"{count:,} articles from {seeds.name}; {cpu_model()}, {subprocess.getoutput('nproc')} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
        f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}",
        "",
        "| measure | bundle | stock | stock / bundle |",
        "| --- | ---: | ---: | ---: |",
        f"| build, s | {bundle_seconds:.1f} | {stock_seconds:.1f} | {stock_seconds / bundle_seconds:.2f} |",
        f"| articles per second | {count / bundle_seconds:,.0f} | {count / stock_seconds:,.0f} | |",
        f"| peak memory of a build process, MB | {bundle_rss:,.0f} | {stock_rss:,.0f} | |",
        f"| database, MB | {mb(bundle_db):,.0f} | {mb(stock_db):,.0f} | {mb(stock_db) / mb(bundle_db):.2f} |",
        f"| rebuild after one article changed, s | {rebuild_seconds:.1f} | {stock_seconds:.1f} | {stock_seconds / rebuild_seconds:.1f} |",
    ]
    for label, b in results["bundle"].items():
        if label == "stream":
            continue
        s = results["stock"].get(label)
        flag = lambda r: (" (timed out)" if r["timed_out"] else "") + ("" if r["status"] == {200} else f" (HTTP {sorted(r['status'])})")  # noqa: E731
        stock_cell = f"{s['median']:.1f} / {s['p95']:.1f}{flag(s)}" if s else "n/a"
        ratio = f"{s['median'] / b['median']:.1f}" if s else ""
        lines.append(f"| {label}: median / p95 ms | {b['median']:.1f} / {b['p95']:.1f}{flag(b)} | {stock_cell} | {ratio} |")
    (bf, brows, brate), (sf, srows, srate) = results["bundle"]["stream"], results["stock"]["stream"]
    lines.append(f"| streamed CSV of a search: first byte ms; rows/s (rows) | {bf:.0f}; {brate:,.0f} ({brows:,}) | {sf:.0f}; {srate:,.0f} ({srows:,}) | |")
    lines.append(f"| search exactness vs LIKE, {len(queries)} substrings of 1–6 characters | {bundle_exact:.0%} | {stock_exact:.0%} | |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
