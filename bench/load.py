#!/usr/bin/env python
"""Load on a served archive, as readers make it, on loopback only.

    python bench/load.py [--files 100000] [--workdir /tmp/hkcnews-load]

Builds (once) a database of N files shaped like the backup
(../shared/corpus/make_corpus.py), serves it with `python -m
hkcnews.serve` (the settings a public instance uses) and runs:

1. a busy day: 50 readers, each pausing 1-3 s between requests, for 60 s;
   every error counted, latency percentiles reported;
2. saturation: readers with no pauses, 1, 2, 4, … 256 at a time, each
   level for 15 s: the peak requests per second, and the level where errors
   (5xx, 400 from the SQL time limit) or timeouts (10 s) begin.

The mix: the articles table page, searches for common and rarer words
(Chinese and English, some with the tag facet), tag and category facets,
article pages, the canned search query, the figures table and a search of
it, /-/search and CSV downloads of a search. Readers ask the same popular
searches again and again, as on a public instance. Stops by itself; prints
one Markdown table per run.
"""

import argparse
import asyncio
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from run import cpu_model, free_port, make_corpus  # noqa: E402

# The searches measured on the backup: 香港 (in 59% of its files), 港,
# 林鄭月娥, an English word (police there; Reuters, in half of these files,
# here) and 國安法, with the tag facet. The generated files have their own
# word frequencies (香港 is in 14% of them), so 的, in nearly all of them,
# stands in for the backup's broadest searches.
SEARCH_WORDS = ["香港", "港", "林鄭月娥", "Reuters", "的"]
FACETED_WORD = "國安法"
TIMEOUT = 10.0


def request_mix(ids, tags, csv_size="max"):
    """(label, weight, path maker) for each kind of request a reader makes.
    The CSV is what a search page's CSV link gives (every matching article,
    since hkcnews/site/downloads.py), or with ``csv_size`` a number, that many
    of the first rows, as the link gave before."""
    word = lambda rng: quote(rng.choice(SEARCH_WORDS))  # noqa: E731
    return [
        ("articles table", 3, lambda rng: "/news/articles"),
        ("search", 4, lambda rng: f"/news/articles?_search={word(rng)}"),
        ("search with the tag facet", 1, lambda rng: f"/news/articles?_search={quote(FACETED_WORD)}&_facet_array=tags"),
        ("articles with a tag", 2, lambda rng: f"/news/articles?tags__arraycontains={quote(rng.choice(tags))}"),
        (
            "tag and category facets",
            1,
            lambda rng: rng.choice(["/news/articles?_facet_array=tags", "/news/articles?_facet=category"]),
        ),
        ("article page", 6, lambda rng: f"/news/articles/{rng.choice(ids)}"),
        ("canned search", 2, lambda rng: f"/news/search?q={word(rng)}"),
        ("figures", 1, lambda rng: rng.choice(["/news/figures", f"/news/figures?_search={quote('美聯社')}"])),
        ("/-/search", 1, lambda rng: f"/-/search?q={word(rng)}"),
        ("CSV of a search", 1, lambda rng: f"/news/articles.csv?_search={word(rng)}&_size={csv_size}"),
    ]


class Tally:
    def __init__(self):
        self.times, self.errors, self.by_kind = [], [], {}
        self.began = time.monotonic()
        self.later = []  # times of the requests sent after the first 10 s

    def add(self, kind, seconds, error=None):
        if error:
            self.errors.append((kind, error))
        else:
            self.times.append(seconds)
            self.by_kind.setdefault(kind, []).append(seconds)
            if time.monotonic() - seconds - self.began >= 10:
                self.later.append(seconds)

    def percentile(self, p, times=None):
        times = sorted(self.times if times is None else times)
        return times[min(len(times) - 1, int(len(times) * p))] * 1000 if times else float("nan")


async def reader(client, mix, rng, tally, stop_at, pause):
    labels, weights, makers = zip(*mix, strict=True)
    # Readers arrive over a second, not all in the same instant: each opens
    # its own connection then, as a browser does, and keeps it.
    await asyncio.sleep(rng.uniform(0, 1))
    while time.monotonic() < stop_at:
        i = rng.choices(range(len(mix)), weights)[0]
        start = time.monotonic()
        try:
            response = await client.get(makers[i](rng))
            await response.aread()
            error = (
                None if response.status_code < 500 and response.status_code != 400 else f"HTTP {response.status_code}"
            )
        except httpx.TimeoutException:
            error = "timeout"
        except httpx.HTTPError as e:
            error = type(e).__name__
        tally.add(labels[i], time.monotonic() - start, error)
        if pause:
            await asyncio.sleep(rng.uniform(*pause))


async def run(url, mix, clients, seconds, pause, seed):
    tally = Tally()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT, limits=limits) as client:
        stop_at = time.monotonic() + seconds
        await asyncio.gather(
            *(reader(client, mix, random.Random(seed + i), tally, stop_at, pause) for i in range(clients))
        )
    return tally


def serve(db, port):
    process = subprocess.Popen(
        [sys.executable, "-m", "hkcnews.serve", str(db), "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    for _ in range(300):
        try:
            httpx.get(f"http://127.0.0.1:{port}/-/versions.json", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    raise SystemExit("python -m hkcnews.serve did not start")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/hkcnews-load"))
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--level-seconds", type=int, default=15)
    parser.add_argument("--max-readers", type=int, default=256, help="the saturation run doubles readers up to this")
    parser.add_argument("--seeds", type=Path, help="a folder of articles instead (real ones, or files made before)")
    parser.add_argument(
        "--csv-size", default="max", help="rows of the CSV of a search: max (the CSV link: every match) or a number"
    )
    args = parser.parse_args()

    seeds = args.seeds or make_corpus(args.files, args.workdir / f"corpus-{args.files}")
    db = args.workdir / "news.db"
    subprocess.run(
        [sys.executable, str(ROOT / "build_db.py"), "--seeds", str(seeds), "--db", str(db), "--skip-invalid"],
        check=True,
    )
    conn = sqlite3.connect(db)
    ids = [i for (i,) in conn.execute("select id from articles")]
    tags = [t for (t,) in conn.execute("select name from tags order by article_count desc limit 200")]
    files = conn.execute("select count(*) from captures").fetchone()[0]
    mix = request_mix(ids, tags, args.csv_size)
    port = free_port()
    server = serve(db, port)
    url = f"http://127.0.0.1:{port}"
    try:
        print(
            f"\n{files:,} files from {seeds.name}: {len(ids):,} articles; {cpu_model()}, {subprocess.getoutput('nproc')} cores; "
            f"python -m hkcnews.serve on {url}\n"
        )
        day = asyncio.run(run(url, mix, args.clients, args.seconds, (1.0, 3.0), seed=1))
        print(f"Run 1, a busy day: {args.clients} readers pausing 1-3 s, {args.seconds} s\n")
        print("| requests | errors | requests/s | median ms | p95 ms | p99 ms | max ms |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        print(
            f"| {len(day.times) + len(day.errors):,} | {len(day.errors)} | {len(day.times) / args.seconds:.1f} | "
            f"{day.percentile(0.5):.0f} | {day.percentile(0.95):.0f} | {day.percentile(0.99):.0f} | {max(day.times) * 1000:.0f} |"
        )
        print("\n| request | count | median ms | p99 ms |\n| --- | ---: | ---: | ---: |")
        for kind, times in sorted(day.by_kind.items()):
            print(
                f"| {kind} | {len(times)} | {statistics.median(times) * 1000:.0f} | {day.percentile(0.99, times):.0f} |"
            )
        if day.errors:
            print("\nerrors:", sorted(set(day.errors))[:10])
        # Every reader arrives in the first second, when no page is in the
        # servers' page caches yet; later, popular pages come from memory.
        print(
            f"\nAfter the first 10 s: {len(day.later):,} requests, median {day.percentile(0.5, day.later):.0f} ms, "
            f"p95 {day.percentile(0.95, day.later):.0f} ms, p99 {day.percentile(0.99, day.later):.0f} ms"
        )

        print(f"\nRun 2, saturation: readers without pauses, {args.level_seconds} s per level\n")
        print("| readers | requests/s | median ms | p99 ms | errors |\n| ---: | ---: | ---: | ---: | ---: |")
        best, best_clients, first_errors, clients = 0.0, 0, None, 1
        while clients <= args.max_readers:
            tally = asyncio.run(run(url, mix, clients, args.level_seconds, None, seed=clients))
            rate = len(tally.times) / args.level_seconds
            print(
                f"| {clients} | {rate:.1f} | {tally.percentile(0.5):.0f} | {tally.percentile(0.99):.0f} | "
                f"{len(tally.errors)}{' (' + ', '.join(sorted({e for _, e in tally.errors})) + ')' if tally.errors else ''} |",
                flush=True,
            )
            if rate > best:
                best, best_clients = rate, clients
            if tally.errors and first_errors is None:
                first_errors = clients
            clients *= 2
        print(
            f"\npeak: {best:.1f} requests/s with {best_clients} readers; "
            + (
                f"errors or timeouts from {first_errors} readers"
                if first_errors
                else f"no error or timeout up to {args.max_readers} readers"
            )
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)


if __name__ == "__main__":
    main()
