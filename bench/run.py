"""Measure the bundle against stock Datasette, side by side, in one run.

    python bench/run.py --files 100000             # files shaped like the backup (make_corpus.py)
    python bench/run.py --seeds ../shared/hkcnews-sample/articles
    python bench/run.py --seeds DIR --pages-only  # the pages again, on the databases built before

Builds both databases from the same files (the bundle with 2 worker
processes and with 1), serves the bundle with `python -m hkcnews.serve`,
stock with `datasette serve` and the same settings (facet_time_limit_ms
raised so that its facets finish), and the bundle's file once more as
Datasette's documentation serves a database, `datasette serve news.db -m
metadata.yml` with default settings; sends the same requests to each, one
at a time, and prints one Markdown table: build times and size, median and
p95 of each page, the streamed CSV, and search exactness against LIKE.

A page is timed as computed (each request carries a cookie, so the
bundle's page cache lets it through) and, for the bundle, again as served
from memory. Run by hand; nothing here is a test.
"""

import argparse
import csv
import io
import os
import random
import signal
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

from datasette.utils import tilde_encode  # noqa: E402
from reconcile import MAKE_CORPUS  # noqa: E402

from hkcnews import compat, config  # noqa: E402
from hkcnews.serve import SETTINGS, ensure_inspected  # noqa: E402
from hkcnews.terms import _CJK_RUN, fold, fts_query, visible_text  # noqa: E402

BIN = Path(sys.executable).parent


def cpu_model():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return sys.platform


def read_whole(path):
    with open(path, "rb") as f:
        while f.read(16 * 1024**2):
            pass


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


def make_corpus(count, folder):
    """``count`` files shaped like the backup, written once."""
    if not (folder / ".complete").exists():
        print(f"writing {count:,} files shaped like the backup to {folder}", file=sys.stderr)
        subprocess.run([sys.executable, str(MAKE_CORPUS), str(count), str(folder)], check=True)
        (folder / ".complete").write_text(str(count))
    return folder


@contextmanager
def serving(command, port):
    """A server on a loopback port, in a process group of its own (its
    workers are stopped with it)."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(600):
            try:
                httpx.get(f"http://127.0.0.1:{port}/-/versions.json", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)


# Sent with every timed request: the bundle's page cache passes requests
# with cookies through (hkcnews/site/cache.py), so the page is computed.
COMPUTE = {"bench": "computed"}


def timings(client, urls, cached=False):
    """Median and p95 in ms over the given URLs, one request each, after a
    warm-up; with ``cached``, each URL is asked once first, then timed."""
    client.get(urls[0], cookies=COMPUTE)
    times, statuses, timed_out = [], set(), False
    for url in urls:
        if cached:
            client.get(url)
        start = time.perf_counter()
        response = client.get(url, cookies=None if cached else COMPUTE)
        times.append((time.perf_counter() - start) * 1000)
        statuses.add(response.status_code)
        timed_out |= "timed out" in response.text or '"facets_timed_out": ["' in response.text
    times.sort()
    return {
        "median": statistics.median(times),
        "p95": times[min(len(times) - 1, int(len(times) * 0.95))],
        "status": statuses,
        "timed_out": timed_out,
    }


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

    stock_docs = {
        path: (title or "") + "\n" + (body or "")
        for path, title, body in stock.execute("select path, title, body from articles")
    }
    bundle_exact = stock_exact = 0
    for q in queries:
        folded = fold(q)
        expected = {i for i, d in docs.items() if folded in d}
        got = {
            r[0] for r in bundle.execute("select rowid from articles_fts where articles_fts match ?", [fts_query(q)])
        }
        bundle_exact += got == expected
        stock_expected = {p for p, d in stock_docs.items() if q in d}
        stock_got = {
            r[0]
            for r in stock.execute(
                "select articles.path from articles join articles_fts on articles_fts.rowid = articles.rowid "
                "where articles_fts match ?",
                [escape_fts(q)],
            )
        }
        stock_exact += stock_got == stock_expected
    return bundle_exact / len(queries), stock_exact / len(queries)


# Words of the measurements on the backup that the generated files
# also have, and one in nearly every file.
def paired_ms(first, second, url, pairs=21):
    """Medians of the same page from two servers, asked in turn (so that
    both see the same moments of a noisy machine), and the median of the
    pairs' differences."""
    first.get(url, cookies=COMPUTE)
    second.get(url, cookies=COMPUTE)
    times = {"first": [], "second": []}
    for _ in range(pairs):
        for key, client in (("first", first), ("second", second)):
            start = time.perf_counter()
            response = client.get(url, cookies=COMPUTE)
            times[key].append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (url, response.status_code)
    differences = [a - b for a, b in zip(times["first"], times["second"], strict=True)]
    return statistics.median(times["first"]), statistics.median(times["second"]), statistics.median(differences)


NAMED_SEARCHES = ["香港", "港", "林鄭月娥", "的"]
ENGLISH = ["Reuters", "Biden", "Blinken", "Sullivan", "Johnson", "HSBC", "BioNTech", "Sinovac", "WHO", "Daily"]


def request_plan(db_name, docs, row_path, bundle):
    """[(label, [urls])]: the same requests for either system."""
    by_length = {n: sample_queries(docs, 20, [n], seed=n) for n in (1, 2, 3, 4)}
    english = (ENGLISH * 2)[:20]
    base = f"/{db_name}"
    # One page asked again and again: 7 times after a warm-up, as the
    # figures for the backup were measured (stock's tag facet takes 20 s).
    again = 7
    q = lambda s: quote(s)  # noqa: E731
    plan = [
        ("articles table page", [f"{base}/articles"] * again),
        *[
            (f"search {s} ({share(docs, s):.0%} of articles)", [f"{base}/articles?_search={q(s)}"] * again)
            for s in NAMED_SEARCHES
        ],
        *[
            (f"search, {n}-character Chinese", [f"{base}/articles?_search={q(s)}" for s in by_length[n]])
            for n in (1, 2, 3, 4)
        ],
        ("search, English word", [f"{base}/articles?_search={q(s)}" for s in english]),
        ("tag facet, all rows", [f"{base}/articles?_facet_array=tags"] * again),
        ("tag facet, search result", [f"{base}/articles?_search={q(s)}&_facet_array=tags" for s in by_length[2]]),
        ("category facet", [f"{base}/articles?_facet=category"] * again),
        ("author facet", [f"{base}/articles?_facet=author"] * again),
        ("article row page", [f"{base}/articles/{p}" for p in row_path]),
        ("CSV link of a search page", [f"{base}/articles.csv?_search={q(s)}&_size=max" for s in by_length[2]]),
        ("/-/search page", [f"/-/search?q={q(s)}" for s in by_length[2]]),
    ]
    if bundle:
        # Stock has no year column, canned queries or figures table.
        plan.insert(-4, ("year facet", [f"{base}/articles?_facet=year"] * again))
        plan.insert(-2, ("canned search query", [f"{base}/search?q={q(s)}" for s in by_length[2]]))
        plan.insert(-2, ("figures table", [f"{base}/figures"] * again))
        plan.insert(-2, ("figures search 美聯社", [f"{base}/figures?_search={q('美聯社')}"] * again))
    return plan


def share(docs, word):
    folded = fold(word)
    return sum(folded in d for d in docs.values()) / len(docs)


def measure_builds(seeds, bundle_db, one_worker_db, stock_db):
    """Full builds (the bundle with 2 workers and with 1, stock) and the
    bundle's rebuild after one file changed: {measure: value}."""
    bundle_db.unlink(missing_ok=True)
    build = [sys.executable, str(ROOT / "build_db.py"), "--seeds", str(seeds), "--skip-invalid"]
    build_bundle = [*build, "--db", str(bundle_db)]
    print("building the bundle", file=sys.stderr)
    bundle_seconds, bundle_rss = timed_run(build_bundle)
    print("building stock", file=sys.stderr)
    stock_seconds, stock_rss = timed_run([sys.executable, str(HERE / "stock.py"), str(seeds), str(stock_db)])
    print("building the bundle with one worker", file=sys.stderr)
    one_worker_seconds, _ = timed_run([*build, "--db", str(one_worker_db), "--full", "--workers", "1"])

    # One file changed: the rebuild must notice it and only it.
    articles = sorted(seeds.rglob("*.md"))
    changed = next(p for p in articles[len(articles) // 2 :] if "。".encode() in p.read_bytes())
    original = changed.read_bytes()
    try:
        changed.write_bytes(original.replace("。".encode(), "。 ".encode(), 1))
        # Let the disk finish writing the builds first: a rebuild comes long
        # after the last build, not while the page cache still flushes it.
        os.sync()
        rebuild_seconds, _ = timed_run(build_bundle)
    finally:
        changed.write_bytes(original)
        timed_run(build_bundle)
    return {
        "bundle": bundle_seconds,
        "one worker": one_worker_seconds,
        "stock": stock_seconds,
        "bundle rss": bundle_rss,
        "stock rss": stock_rss,
        "rebuild": rebuild_seconds,
    }


def measure_pages(bundle_db, stock_db, docs):
    """The same requests to the bundle (computed and from memory), stock with
    the same settings, and the bundle's file under a plain datasette serve."""
    conn = sqlite3.connect(bundle_db)
    bundle_ids = [r[0] for r in conn.execute("select id from articles order by random() limit 20")]
    stock_paths = [
        tilde_encode(r[0])
        for r in sqlite3.connect(stock_db).execute("select path from articles order by random() limit 20")
    ]
    ensure_inspected(bundle_db, str(BIN / "datasette"))
    ensure_inspected(stock_db, str(BIN / "datasette"))
    # A search with thousands of hits, for the streamed CSV.
    common = max(sample_queries(docs, 30, [1], seed=3), key=lambda s: sum(s in d for d in list(docs.values())[:2000]))
    # Stock's array facet needs seconds on this many rows; a facet query may
    # not run longer than sql_time_limit_ms, so both are raised for it.
    stock_settings = {**SETTINGS, "facet_time_limit_ms": "20000", "sql_time_limit_ms": "20000"}
    # As the README serves it: metadata.yml, and on Datasette 1.0 the pair
    # hkcnews/config.py writes from it (1.0 reads canned queries only from -c).
    plain_config = (
        config.write(bundle_db.parent / "plain") if compat.DATASETTE_1 else ["-m", str(ROOT / "metadata.yml")]
    )
    servers = {
        "bundle": lambda port: [sys.executable, "-m", "hkcnews.serve", str(bundle_db), "--port", str(port)],
        "stock": lambda port: [
            str(BIN / "datasette"),
            "serve",
            "-i",
            str(stock_db),
            "--inspect-file",
            f"{stock_db}.inspect.json",
            "--port",
            str(port),
            *[arg for name, value in stock_settings.items() for arg in ("--setting", name, value)],
        ],
        "plain": lambda port: [str(BIN / "datasette"), "serve", str(bundle_db), *plain_config, "--port", str(port)],
    }
    results = {}
    for name, command in servers.items():
        port = free_port()
        db = stock_db if name == "stock" else bundle_db
        plan = request_plan(db.stem, docs, stock_paths if name == "stock" else bundle_ids, name != "stock")
        # Each system's file read once first, so that none is timed with its
        # file still on disk: the bundle's pages used to be timed straight
        # after the builds had filled the page cache with other files, and
        # took 10-30 ms more than the same file served later in the run.
        read_whole(db)
        with serving(command(port), port) as url, httpx.Client(base_url=url, timeout=60) as client:
            print(f"requests to {name}", file=sys.stderr)
            results[name] = {label: timings(client, urls) for label, urls in plan}
            if name == "bundle":
                results["memory"] = {label: timings(client, urls, cached=True) for label, urls in plan}
            # Not under a plain serve: Datasette's default max_csv_mb (100) cuts
            # this CSV, and the plugin breaks such a download off (downloads.py).
            if name != "plain":
                results[name]["stream"] = stream_csv(
                    client, f"/{db.stem}/articles.csv?_search={quote(common)}&_stream=on&_size=max"
                )
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=100_000, help="files shaped like the backup to generate")
    parser.add_argument("--seeds", type=Path, help="a folder of articles instead (real ones, or files made before)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/hkcnews-bench"))
    parser.add_argument("--exactness", type=int, default=200, help="random substrings to check")
    parser.add_argument(
        "--pages-only", action="store_true", help="time the pages of the databases an earlier run built"
    )
    args = parser.parse_args()

    work = args.workdir
    seeds = args.seeds or make_corpus(args.files, work / f"corpus-{args.files}")
    for folder in ("bundle", "bundle-1", "stock"):
        (work / folder).mkdir(parents=True, exist_ok=True)
    bundle_db, one_worker_db, stock_db = (
        work / "bundle" / "news.db",
        work / "bundle-1" / "news.db",
        work / "stock" / "stock.db",
    )
    builds = None if args.pages_only else measure_builds(seeds, bundle_db, one_worker_db, stock_db)
    docs = folded_documents(bundle_db)
    results = measure_pages(bundle_db, stock_db, docs)

    conn = sqlite3.connect(bundle_db)
    count, files = (conn.execute(f"select count(*) from {t}").fetchone()[0] for t in ("articles", "captures"))
    mb = lambda p: p.stat().st_size / 1e6  # noqa: E731
    lines = [
        f"{files:,} files from {seeds.name}: {count:,} articles; {cpu_model()}, {subprocess.getoutput('nproc')} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
        f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}",
        "",
    ]
    if builds:
        print("checking exactness", file=sys.stderr)
        queries = sample_queries(docs, args.exactness, [1, 2, 3, 4, 5, 6], seed=5)
        bundle_exact, stock_exact = exactness(docs, bundle_db, stock_db, queries)
        b, o, s = builds["bundle"], builds["one worker"], builds["stock"]
        lines += [
            "| measure | bundle | stock | stock / bundle |",
            "| --- | ---: | ---: | ---: |",
            f"| build, 2 workers, s | {b:.1f} | {s:.1f} | {s / b:.2f} |",
            f"| build, 1 worker, s | {o:.1f} | | {s / o:.2f} |",
            f"| files per second, 2 workers | {files / b:,.0f} | {files / s:,.0f} | |",
            f"| peak memory of a build process, MB | {builds['bundle rss']:,.0f} | {builds['stock rss']:,.0f} | |",
            f"| database, MB | {mb(bundle_db):,.0f} | {mb(stock_db):,.0f} | {mb(stock_db) / mb(bundle_db):.2f} |",
            f"| rebuild after one file changed, s | {builds['rebuild']:.1f} | {s:.1f} | {s / builds['rebuild']:.1f} |",
            f"| search exactness vs LIKE, {len(queries)} substrings of 1–6 characters | {bundle_exact:.0%} | {stock_exact:.0%} | |",
            "",
        ]
    lines += [
        "Pages, median / p95 ms, one request at a time: the bundle as `python -m hkcnews.serve` serves it, computed "
        "and from its page cache; stock with the same settings; the bundle's file under a plain `datasette serve "
        "news.db -m metadata.yml`.",
        "",
        "| page | bundle | bundle, from memory | stock, same settings | stock / bundle | plain `datasette serve` |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]

    def flag(r):
        return (" (timed out)" if r["timed_out"] else "") + (
            "" if r["status"] == {200} else f" (HTTP {sorted(r['status'])})"
        )

    def cell(r):
        return f"{r['median']:.0f} / {r['p95']:.0f}{flag(r)}" if r else "n/a"

    for label, b in results["bundle"].items():
        if label == "stream":
            continue
        s = results["stock"].get(label)
        ratio = f"{s['median'] / b['median']:.1f}" if s else ""
        lines.append(
            f"| {label} | {cell(b)} | {cell(results['memory'][label])} | {cell(s)} | {ratio} | {cell(results['plain'][label])} |"
        )
    (bf, brows, brate), (sf, srows, srate) = results["bundle"]["stream"], results["stock"]["stream"]
    lines.append(
        f"| streamed CSV of a search: first byte ms; rows/s (rows) | {bf:.0f}; {brate:,.0f} ({brows:,}) | | {sf:.0f}; {srate:,.0f} ({srows:,}) | | |"
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
