#!/usr/bin/env python
"""Does a served archive's memory grow with the pages it computes?

    python bench/memory.py [--files 30000 | --seeds DIR] [--workdir /tmp/hkcnews-memory]
                           [--pages 9000] [--concurrency 4] [--gzip]

Builds a database of N files shaped like the backup (make_corpus, as
bench/run.py does; or of --seeds DIR) in --workdir, once: build_db.py reads
again only the files that changed, so a second run starts at once. Serves it
with `python -m hkcnews.serve --workers 2` on a loopback port, then asks for
--pages DISTINCT pages, --concurrency at a time, without cookies, so that
every page is computed and kept by the page cache (hkcnews/site/cache.py) as a
public instance's readers fill it: the articles of each tag (then the same
with other page sizes and sorts), article pages, figure pages, searches of
the figures and of the articles for distinct words, in turn.

Prints one Markdown table: each worker's resident memory (VmRSS) and peak
(VmHWM) from /proc when idle and after 1/9, 3/9, 6/9 and all of the pages
(1,000, 3,000, 6,000 and 9,000 by default), the errors so far and the bytes
of the pages each worker computed, which is what its page cache holds until
it reaches MAX_BYTES (128 MB) or MAX_PAGES. Then the growth from 3/9 to all the pages per
worker: once the cache is full, a server that does not leak stays within
about 40 MB. Each response is traced to the worker that answered it through
the connection it came on (/proc/net/tcp and the workers' socket inodes).

Pages are asked for without compression (Accept-Encoding: identity), so
that they are kept whole and the cache fills within the first third of the
run; --gzip asks for gzip as browsers do (the cache then keeps pages 5-10
times smaller, and fills by count). Run by hand; nothing here is a test.
"""

import argparse
import asyncio
import http.cookiejar
import itertools
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from run import cpu_model, free_port, make_corpus  # noqa: E402

from hkcnews.site.cache import CACHE_HEADER, MAX_BYTES, MAX_PAGE_BYTES, MAX_PAGES  # noqa: E402
from hkcnews.terms import _CJK_RUN  # noqa: E402

WORKERS = 2
REQUEST_TIMEOUT = 60.0
SLOW_SECONDS = 5.0
# The whole run stops asking after this long, whatever is left.
MAX_RUN_SECONDS = 3 * 3600
MB = 1024**2


# ---------------------------------------------------------------- the build


def build_database(files, seeds, workdir):
    """The database of ``seeds`` (or of ``files`` generated files), built in
    ``workdir`` once; a second call reads only the files that changed."""
    workdir.mkdir(parents=True, exist_ok=True)
    seeds = seeds or make_corpus(files, workdir / f"corpus-{files}")
    # One database per source, so that runs of different sizes do not
    # rebuild each other's; named news.db, since its name is the /news/ of
    # every address.
    db = workdir / f"db-{seeds.name}" / "news.db"
    db.parent.mkdir(exist_ok=True)
    print(f"building {db} from {seeds}", file=sys.stderr)
    subprocess.run(
        [sys.executable, str(ROOT / "build_db.py"), "--seeds", str(seeds), "--db", str(db), "--skip-invalid"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return db


# ---------------------------------------------------------------- the server


@contextmanager
def serving(db, log_path):
    """``python -m hkcnews.serve`` with 2 workers on a free loopback port,
    in a process group of its own (so that its workers and multiprocessing's
    resource tracker stop with it): yields (process, port). Its stderr goes
    to ``log_path``, where it says when a worker died."""
    port = free_port()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "hkcnews.serve", str(db), "--port", str(port), "--workers", str(WORKERS)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
    try:
        wait_until_answering(process, port, log_path)
        yield process, port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


def wait_until_answering(process, port, log_path, seconds=120):
    """Until both workers take requests, or SystemExit with the server's log."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            httpx.get(f"http://127.0.0.1:{port}/-/versions.json", timeout=1)
            if len(worker_pids(process)) == WORKERS:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"python -m hkcnews.serve did not start:\n{Path(log_path).read_text()[-2000:]}")


def worker_pids(process):
    """The server's uvicorn workers, oldest first: its children whose command
    line is multiprocessing's spawn_main (not its resource_tracker)."""
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    pids = []
    for pid in children:
        try:
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                pids.append(int(pid))
        except FileNotFoundError:
            pass  # it exited between the two reads
    return sorted(pids)


def memory_mb(pid):
    """(VmRSS, VmHWM) of a process in MB, or (None, None) once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return None, None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    # A zombie has no memory lines.
    kb = lambda name: int(fields[name].split()[0]) if name in fields else None  # noqa: E731
    rss, hwm = kb("VmRSS"), kb("VmHWM")
    return (rss / 1024 if rss is not None else None), (hwm / 1024 if hwm is not None else None)


def connection_owners(pids, port):
    """{client port: worker pid} of the loopback connections to ``port``
    that the given workers hold open."""
    inodes = {}
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except FileNotFoundError:
            continue
        for fd in fds:
            try:
                link = os.readlink(fd)
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes[int(link[8:-1])] = pid
    owners = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], int(fields[9])
        remote_port = int(remote.split(":")[1], 16)
        # The listening socket (remote port 0) is shared by every worker.
        if int(local.split(":")[1], 16) == port and remote_port and inode in inodes:
            owners[remote_port] = inodes[inode]
    return owners


class Owners:
    """Which worker answered a response, while its connection is open."""

    def __init__(self, process, port):
        self.process, self.port, self.known = process, port, {}

    def of(self, response):
        try:
            client_port = response.extensions["network_stream"].get_extra_info("client_addr")[1]
        except (KeyError, TypeError, OSError):
            return None  # the connection is already closed
        if client_port not in self.known:
            # Those open now, and only those: a closed connection's port
            # may come back later for another connection.
            self.known = connection_owners(worker_pids(self.process), self.port)
        return self.known.pop(client_port, None)


# ---------------------------------------------------------------- the pages


def cjk_words(texts, count, rng, lengths=(2, 3)):
    """Up to ``count`` distinct Chinese words (substrings of runs of
    ideographs) drawn from ``texts``, in the order drawn."""
    words = {}
    texts = [t for t in texts if t]
    for _ in range(count * 20):  # bounded: a small corpus has fewer words
        if len(words) >= count or not texts:
            break
        runs = [r for r in _CJK_RUN.findall(rng.choice(texts)) if len(r) >= max(lengths)]
        if runs:
            run, length = rng.choice(runs), rng.choice(lengths)
            start = rng.randrange(len(run) - length + 1)
            words.setdefault(run[start : start + length], None)
    return list(words)


# Other forms of the same listing, each a distinct page, for when a kind of
# page runs out of tags or words before the run has its count.
VARIATIONS = ["", "&_size=20", "&_size=30", "&_size=40", "&_sort=date", "&_size=10", "&_size=25&_sort=date"]


def page_kinds(db, count, seed=11):
    """{kind: [path, …]}: enough distinct pages of each kind for ``count``
    pages in all, from the database's own tags, ids, titles and captions."""
    rng = random.Random(seed)
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    share = count // 5 + 1
    tags = [quote(t, safe="") for (t,) in conn.execute("select name from tags order by article_count desc")]
    article_ids = [i for (i,) in conn.execute("select id from articles")]
    figure_ids = [i for (i,) in conn.execute("select id from figures")]
    titles = [t for (t,) in conn.execute("select title from articles order by random() limit 5000")]
    captions = [
        c for (c,) in conn.execute("select caption from figures where caption != '' order by random() limit 5000")
    ]
    conn.close()
    rng.shuffle(article_ids)
    rng.shuffle(figure_ids)
    words = [quote(w) for w in cjk_words(titles, share, rng)]
    caption_words = [quote(w) for w in cjk_words(captions, share, rng)]

    def listing(path, values):
        return [f"{path}{v}{variation}" for variation in VARIATIONS for v in values][: share * 2]

    return {
        "articles of a tag": listing("/news/articles?tags__arraycontains=", tags),
        "article page": [f"/news/articles/{i}" for i in article_ids][: share * 2],
        "figure page": [f"/news/figures/{i}" for i in figure_ids][: share * 2],
        "figures search": listing("/news/figures?_search=", caption_words),
        "articles search": listing("/news/articles?_search=", words),
    }


def page_plan(kinds, count):
    """``count`` distinct (kind, path), the kinds in turn while each lasts."""
    turns = itertools.zip_longest(*[[(kind, path) for path in paths] for kind, paths in kinds.items()])
    plan, seen = [], set()
    for pair in itertools.chain.from_iterable(turns):
        if pair is not None and pair[1] not in seen:
            seen.add(pair[1])
            plan.append(pair)
            if len(plan) == count:
                break
    return plan


# ---------------------------------------------------------------- the requests


class Tally:
    """What the requests met: errors, slow pages, and per worker the bytes
    of the pages its cache would keep."""

    def __init__(self):
        self.pages = 0
        self.errors = []  # (status or exception, path)
        self.slow = []  # (seconds, path)
        self.cached_bytes = {}  # worker pid (or None, unknown) -> bytes
        self.cached_pages = {}  # worker pid (or None) -> pages
        self.sizes = {}  # kind -> [bytes]
        self.hits = 0
        self.skipped = 0

    def add(self, kind, path, response, seconds, worker):
        self.pages += 1
        if seconds > SLOW_SECONDS:
            self.slow.append((seconds, path))
        if response.status_code != 200:
            self.errors.append((response.status_code, path))
            return
        size = response.num_bytes_downloaded  # as sent: what the cache keeps
        self.sizes.setdefault(kind, []).append(size)
        if response.headers.get(CACHE_HEADER[0].decode()) == CACHE_HEADER[1].decode():
            self.hits += 1  # a page asked before: none should be
        elif size <= MAX_PAGE_BYTES and "set-cookie" not in response.headers:
            self.cached_bytes[worker] = self.cached_bytes.get(worker, 0) + size
            self.cached_pages[worker] = self.cached_pages.get(worker, 0) + 1


async def request_pages(client, plan, owners, tally, concurrency, deadline):
    """Each (kind, path) of ``plan`` once, ``concurrency`` at a time."""
    pending = iter(plan)  # shared by the lanes: each page is asked once

    async def lane():
        for kind, path in pending:
            if time.monotonic() > deadline:
                tally.skipped += 1
                continue
            start = time.monotonic()
            try:
                async with client.stream("GET", path) as response:
                    # Asked before the body is read: the connection closes with it.
                    worker = owners.of(response)
                    await response.aread()
            except httpx.HTTPError as e:
                tally.pages += 1
                tally.errors.append((type(e).__name__, path))
                continue
            tally.add(kind, path, response, time.monotonic() - start, worker)

    await asyncio.gather(*(lane() for _ in range(concurrency)))


async def run_pages(port, plan, owners, tally, checkpoints, concurrency, workers, gzip=False):
    """The plan in stretches ending at each checkpoint, gzipped or not; returns
    [(pages, errors, {pid: (rss, hwm)}, {pid: cached bytes})]."""
    samples = [(0, 0, {pid: memory_mb(pid) for pid in workers}, {}, {})]
    # A new connection for every request, as many readers' browsers make
    # them: the kernel gives each to whichever worker accepts first, and four
    # kept-alive connections all went to the same worker in one run, which
    # left the other idle.
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=0)
    deadline = time.monotonic() + MAX_RUN_SECONDS
    headers = {"Accept-Encoding": "gzip" if gzip else "identity"}
    # A cookie jar that keeps none: a request with a cookie passes the page
    # cache by, and a public instance's readers mostly come without one.
    no_cookies = http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", timeout=REQUEST_TIMEOUT, limits=limits, headers=headers, cookies=no_cookies
    ) as client:
        done = 0
        for checkpoint in checkpoints:
            await request_pages(client, plan[done:checkpoint], owners, tally, concurrency, deadline)
            done = checkpoint
            memory = {pid: memory_mb(pid) for pid in workers}
            samples.append((done, len(tally.errors), memory, dict(tally.cached_bytes), dict(tally.cached_pages)))
            print(f"{done:,} pages, {len(tally.errors)} errors", file=sys.stderr, flush=True)
    return samples


# ---------------------------------------------------------------- the report


def fmt(mb):
    return "gone" if mb is None else f"{mb:,.0f}"


def full(sample, pid):
    """Whether a worker's page cache was full (by size or by count) at a sample."""
    return sample[3].get(pid, 0) >= MAX_BYTES or sample[4].get(pid, 0) >= MAX_PAGES


def growth_line(name, pid, base, last, log_path):
    """A worker's growth in resident memory between two samples."""
    before, after = base[2][pid][0], last[2][pid][0]
    if before is None or after is None:
        return f"{name} (pid {pid}): gone before the end, see {log_path}"
    growth, kept = after - before, base[3].get(pid, 0)
    if full(base, pid):
        verdict = (
            f"{'within' if growth <= 40 else 'OVER'} the 40 MB target; its page cache was full at {base[0]:,} pages"
        )
    else:
        verdict = (
            f"no test of the 40 MB target: its page cache was NOT full at {base[0]:,} pages "
            f"({kept / MB:,.0f} of {MAX_BYTES / MB:.0f} MB, {base[4].get(pid, 0):,} of {MAX_PAGES:,} pages) "
            "and fills meanwhile"
        )
    return f"{name} (pid {pid}): {last[0]:,} − {base[0]:,} pages: {growth:+,.0f} MB, {verdict}"


def report(samples, workers, tally, plan, seconds, log_path):
    names = {pid: f"worker {i + 1}" for i, pid in enumerate(workers)}
    head = " | ".join(f"{names[p]} RSS MB | {names[p]} peak MB | {names[p]} pages MB" for p in workers)
    lines = [
        f"| pages | errors | {head} |",
        "| ---: | ---: | " + " | ".join("---: | ---: | ---:" for _ in workers) + " |",
    ]
    for pages, errors, memory, cached, _ in samples:
        cells = " | ".join(f"{fmt(memory[p][0])} | {fmt(memory[p][1])} | {cached.get(p, 0) / MB:,.0f}" for p in workers)
        lines.append(f"| {pages:,} | {errors} | {cells} |")
    lines.append("")
    lines.append(
        "(pages MB: the bytes of the 200 responses of at most 4 MB that the worker computed, which its page "
        f"cache keeps until they pass {MAX_BYTES / MB:.0f} MB or {MAX_PAGES:,} pages.)"
    )
    lines.append("")
    # Growth from the sample after a third of the pages (3,000 of 9,000) to
    # the last; a test of the target only if the cache was full by then.
    base, last = samples[2], samples[-1]
    for pid in workers:
        lines.append(growth_line(names[pid], pid, base, last, log_path))
        # A later start, when the cache filled only after the third.
        full_at = next((s for s in samples if full(s, pid)), None)
        if full_at and full_at[0] > base[0] and full_at is not last:
            lines.append(growth_line(names[pid], pid, full_at, last, log_path))
    kept = [size for sizes in tally.sizes.values() for size in sizes if size <= MAX_PAGE_BYTES]
    if kept:
        # Pages of this mix that fill a worker's cache, and the run that would.
        per_worker = min(MAX_PAGES, MAX_BYTES / statistics.mean(kept))
        lines.append(
            f"pages of this mix average {statistics.mean(kept) / 1024:,.0f} KB: a worker's cache fills after about "
            f"{per_worker:,.0f} of them, {per_worker * len(workers):,.0f} pages in all"
        )
    unknown = tally.cached_bytes.get(None, 0)
    if unknown:
        lines.append(f"{unknown / MB:,.0f} MB of pages came on connections whose worker could not be told")
    lines.append("")
    sizes = ", ".join(
        f"{kind} {len(s):,} (median {statistics.median(s) / 1024:,.0f} KB)" for kind, s in tally.sizes.items()
    )
    lines.append(f"{len(plan):,} distinct pages in {seconds:,.0f} s: {sizes}")
    if tally.hits:
        lines.append(f"{tally.hits} pages came from the cache, though each was asked once")
    if tally.skipped:
        lines.append(f"{tally.skipped:,} pages not asked: the run passed {MAX_RUN_SECONDS:,} s")
    lines.append(f"errors: {len(tally.errors)}")
    for status, path in tally.errors[:20]:
        lines.append(f"- {status} {path}")
    lines.append(f"requests over {SLOW_SECONDS:.0f} s: {len(tally.slow)}")
    for secs, path in sorted(tally.slow, reverse=True)[:20]:
        lines.append(f"- {secs:.1f} s {path}")
    deaths = [line for line in Path(log_path).read_text().splitlines() if "hkcnews.serve: worker" in line]
    lines.append(f"workers that died: {len(deaths)}")
    lines += [f"- {line}" for line in deaths]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=30_000, help="files shaped like the backup to generate")
    parser.add_argument("--seeds", type=Path, help="a folder of articles instead (real ones, or files made before)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/hkcnews-memory"))
    parser.add_argument("--pages", type=int, default=9000, help="distinct pages to ask for")
    parser.add_argument("--concurrency", type=int, default=4, help="requests at a time")
    parser.add_argument("--gzip", action="store_true", help="ask for gzipped pages, as browsers do")
    args = parser.parse_args()

    db = build_database(args.files, args.seeds, args.workdir)
    plan = page_plan(page_kinds(db, args.pages), args.pages)
    if len(plan) < args.pages:
        print(f"only {len(plan):,} distinct pages in this database", file=sys.stderr)
    checkpoints = sorted({round(len(plan) * k / 9) for k in (1, 3, 6, 9)})
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    articles, files = (conn.execute(f"select count(*) from {t}").fetchone()[0] for t in ("articles", "captures"))
    conn.close()

    log_path = args.workdir / "serve.log"
    with serving(db, log_path) as (process, port):
        workers = worker_pids(process)
        tally = Tally()
        start = time.monotonic()
        samples = asyncio.run(
            run_pages(port, plan, Owners(process, port), tally, checkpoints, args.concurrency, workers, args.gzip)
        )
        seconds = time.monotonic() - start
        replaced = worker_pids(process) != workers
    print(
        f"\n{files:,} files: {articles:,} articles; {cpu_model()}, {os.cpu_count()} cores; "
        f"python -m hkcnews.serve --workers {WORKERS}, {args.concurrency} requests at a time, "
        f"{'gzipped' if args.gzip else 'uncompressed'} pages, no cookies\n"
    )
    print(report(samples, workers, tally, plan, seconds, log_path))
    if replaced:
        print("the workers at the end were not those of the start")


if __name__ == "__main__":
    main()
