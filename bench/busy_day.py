#!/usr/bin/env python
"""A busy day on a served archive, beside stock Datasette with the same settings, on loopback only.

    .venv/bin/python bench/busy_day.py                             # 100,000 files shaped like the backup, 120 s each
    .venv/bin/python bench/busy_day.py --files 3000 --seconds 20   # a small check
    .venv/bin/python bench/busy_day.py --downloads 5 --download-terms one-char
    .venv/bin/python bench/busy_day.py --burst 20                  # 20 whole downloads at once, 20 readers
    .venv/bin/python bench/busy_day.py --seeds ../shared/hkcnews-sample/articles --no-stock

What it measures: 50 readers, each pausing 1-3 s between actions, for
--seconds, against the bundle (`python -m hkcnews.serve`, 2 worker
processes) and then, never at the same time, against stock Datasette
(`datasette serve -i stock.db`, bench/stock.py's database, with
hkcnews.serve.SETTINGS and num_sql_threads left at its default). Both get
the same seeded actions: searches, article pages, a search with a tag
filter or a category, trends of three terms, /-/search, the canned search,
the home, database and table pages, and with --downloads D, D% whole-search
CSV downloads. Every request carries a cookie, so the bundle's page cache
passes it through and every page is computed. The terms are the database's
own frequent words (titles, tags, categories, authors), drawn with a seed.

A download is complete when its data rows, counted with the csv module,
are as many as the same search's count (the table's JSON with _size=0);
a short one, or one whose connection breaks, is an error. A 429 (the
bundle's download queue, hkcnews/site/download_queue.py) is counted apart, and
the reader asks again once its Retry-After has passed.

--burst N: one client opens N downloads of the broadest one-character
search at once while 20 readers read pages; reports the readers' page
percentiles and what became of each download.

Builds the corpus (../shared/corpus/make_corpus.py, as bench/run.py does)
and both databases once in --workdir, again only when the seeds are newer.
Stops by itself: readers stop at --seconds, a download still running is
given --drain seconds more, then cut off. Prints Markdown tables. Run by
hand; nothing here is a test.
"""

import argparse
import asyncio
import csv
import os
import random
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from collections import Counter
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

import datasette.version  # noqa: E402
from datasette.utils import tilde_encode  # noqa: E402
from load import TIMEOUT, Tally  # noqa: E402
from run import COMPUTE, cpu_model, free_port, make_corpus, read_whole  # noqa: E402
from stock import build_stock  # noqa: E402

from hkcnews import compat  # noqa: E402
from hkcnews.ours import not_an_archive  # noqa: E402
from hkcnews.serve import SETTINGS, ensure_inspected  # noqa: E402
from hkcnews.terms import _CJK_RUN  # noqa: E402

BIN = Path(sys.executable).parent
SEED = 1
READERS = 50
BURST_READERS = 20
PAUSE = (1.0, 3.0)
WORKERS = 2
# A download waits for its turn in the bundle's queue before its first byte,
# so it has no read timeout of its own: the run's deadline bounds it.
DOWNLOAD_TIMEOUT = httpx.Timeout(TIMEOUT, read=None)

SEARCH = "search"
ARTICLE = "article page"
TAGGED = "search + tag filter"
CATEGORY = "category + search"
TRENDS = "trends of 3 terms"
SEARCH_ALL = "search-all (/-/search)"
CANNED = "canned search"
HOME = "home, database, table pages"
DOWNLOAD = "whole-search CSV download"
# The mix, in percent; downloads come on top and the rest is scaled
# so that the whole is 100.
PAGE_WEIGHTS = {SEARCH: 35, ARTICLE: 25, TAGGED: 10, CATEGORY: 6, TRENDS: 6, SEARCH_ALL: 6, CANNED: 4, HOME: 6}
STOCK_LACKS = frozenset({TRENDS, CANNED})

STOCK_CSV = (
    "Stock's downloads ask &_stream=on, without which its CSV holds only the first page. Its search matches "
    "what its tokenizer makes a word (a run of CJK characters is one), so its counts are far smaller."
)
# The terms, used whatever the database's own frequent words are.
BROAD = ["香港", "政府", "警方", "中國", "police"]
ONE_CHAR = ["是", "的", "港", "人", "中"]

COMPLETE, SHORT, EXTRA, BROKEN, MALFORMED, REFUSED, CUT, UNCHECKED = (
    "complete",
    "short",
    "more rows than the count",
    "broken",
    "malformed CSV",
    "429",
    "cut off at the deadline",
    "no count to check against",
)
INCOMPLETE = (SHORT, EXTRA, BROKEN, MALFORMED, CUT)


# --- the databases -------------------------------------------------------


def newest_seed(seeds):
    return max((p.stat().st_mtime for p in seeds.rglob("*.md")), default=0.0)


def fresh(db, newest):
    return db.exists() and db.stat().st_mtime >= newest


def databases(seeds, work, with_stock):
    """The bundle's news.db and stock's stock.db of ``seeds`` in ``work``,
    built when missing, older than the seeds, or (the bundle's) not one
    this version of build_db.py serves."""
    folder = work / f"db-{seeds.name}"
    folder.mkdir(parents=True, exist_ok=True)
    bundle_db, stock_db = folder / "news.db", folder / "stock.db"
    # Two seed folders of one name would share the folder: say whose it is.
    owner = folder / "seeds.txt"
    same = owner.exists() and owner.read_text() == str(seeds)
    newest = newest_seed(seeds)
    if not same or not fresh(bundle_db, newest) or not_an_archive(bundle_db):
        print(f"building {bundle_db}", file=sys.stderr)
        build = [sys.executable, str(ROOT / "build_db.py"), "--seeds", str(seeds), "--db", str(bundle_db)]
        subprocess.run([*build, "--skip-invalid"], check=True)
        # build_db.py leaves a file that needed no change as it was.
        if bundle_db.stat().st_mtime < newest:
            os.utime(bundle_db)
    if with_stock and (not same or not fresh(stock_db, newest)):
        print(f"building {stock_db}", file=sys.stderr)
        # Into a file beside it first: an interrupted build is never reused.
        partial = stock_db.with_name("stock.partial.db")
        build_stock(seeds, partial)
        os.replace(partial, stock_db)
    owner.write_text(str(seeds))
    return bundle_db, stock_db if with_stock else None


def column(conn, sql):
    return [value for (value,) in conn.execute(sql)]


@dataclass
class Vocabulary:
    terms: list  # readers' searches
    tags: list  # for tags__arraycontains
    categories: list  # for category=
    broad: list  # downloads, --download-terms broad
    one_char: list  # downloads, --download-terms one-char


def unique(words):
    return list(dict.fromkeys(w for w in words if w))


def whole_words(grams, n, count):
    """The ``count`` most frequent n-character strings of titles that are
    not mostly part of one longer string: words are not marked in Chinese
    text, and 人民代 is nearly always in 人民代表."""
    longer = grams[n + 1].most_common(300)
    found = []
    for gram, k in grams[n].most_common(300):
        if not any(gram in g and m >= 0.7 * k for g, m in longer):
            found.append(gram)
        if len(found) == count:
            break
    return found


def vocabulary(db, seed=SEED):
    """Frequent 1-4-character words of the database's titles, tags,
    categories and authors, and the issue's own; the same for a given
    database and seed, so runs can be compared."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        titles = column(conn, "select title from articles where title != '' order by id")
        tags = column(conn, "select name from tags order by article_count desc, name limit 200")
        categories = column(
            conn,
            "select category from articles where category != '' group by category order by count(*) desc, category",
        )
        authors = column(
            conn,
            "select author from articles where length(author) between 1 and 4 "
            "group by author order by count(*) desc, author limit 10",
        )
    finally:
        conn.close()
    singles, grams, latin = Counter(), {n: Counter() for n in (2, 3, 4, 5)}, Counter()
    for title in random.Random(seed).sample(titles, min(len(titles), 20_000)):
        latin.update(re.findall(r"[A-Za-z]{3,}", title))
        for run in _CJK_RUN.findall(title):
            singles.update(run)
            for n, counter in grams.items():
                counter.update(run[i : i + n] for i in range(len(run) - n + 1))
    top = lambda counter, n: [w for w, _ in counter.most_common(n)]  # noqa: E731
    words = whole_words(grams, 2, 30) + whole_words(grams, 3, 15) + whole_words(grams, 4, 10)
    short_tags = [t for t in tags if len(t) <= 4]
    terms = unique(
        BROAD
        + words
        + short_tags[:40]
        + [c for c in categories if len(c) <= 4]
        + authors
        + top(latin, 10)
        + top(singles, 5)
    )
    return Vocabulary(
        terms=terms,
        tags=tags[:100],
        categories=categories,
        broad=unique(BROAD + whole_words(grams, 2, 10)),
        one_char=unique(ONE_CHAR + top(singles, 5)),
    )


def article_keys(bundle_db, stock_db):
    """The same articles in both: the bundle's ids and stock's tilde-encoded
    paths of the files the bundle read them from."""
    conn = sqlite3.connect(f"file:{bundle_db}?mode=ro", uri=True)
    pairs = conn.execute("select id, source_path from articles order by id").fetchall()
    conn.close()
    if stock_db:
        conn = sqlite3.connect(f"file:{stock_db}?mode=ro", uri=True)
        paths = set(column(conn, "select path from articles"))
        conn.close()
        pairs = [(i, p) for i, p in pairs if p in paths]
    return [str(i) for i, _ in pairs], [tilde_encode(p) for _, p in pairs]


# --- the readers' actions ------------------------------------------------


def mix(downloads):
    """{kind: percent}: the pages scaled so that with ``downloads`` percent of
    downloads the whole is 100."""
    scale = (100 - downloads) / sum(PAGE_WEIGHTS.values())
    weights = {kind: weight * scale for kind, weight in PAGE_WEIGHTS.items()}
    if downloads:
        weights[DOWNLOAD] = downloads
    return weights


def action(rng, kind, vocab, articles, download_terms):
    """The arguments of one action, whichever server it goes to."""
    if kind == ARTICLE:
        return (rng.randrange(articles),)
    if kind == TAGGED:
        return rng.choice(vocab.terms), rng.choice(vocab.tags)
    if kind == CATEGORY:
        return rng.choice(vocab.terms), rng.choice(vocab.categories)
    if kind == TRENDS:
        return tuple(rng.sample(vocab.terms, 3))
    if kind == HOME:
        return (rng.choice(["home", "database", "table"]),)
    if kind == DOWNLOAD:
        return (rng.choice(download_terms),)
    return (rng.choice(vocab.terms),)


def reader_plan(rng, weights, vocab, articles, download_terms, seconds):
    """(arrival, [(kind, args, pause)]): one reader's day, drawn before it
    starts so that both servers get the same one. Pauses are 1 s or more,
    so no reader gets past seconds + 1 actions."""
    kinds, shares = zip(*weights.items(), strict=True)
    arrival = rng.uniform(0, 1)  # readers arrive over a second, not in one instant
    steps = []
    for _ in range(int(seconds) + 1):
        kind = rng.choices(kinds, shares)[0]
        steps.append((kind, action(rng, kind, vocab, articles, download_terms), rng.uniform(*PAUSE)))
    return arrival, steps


def plans(count, weights, vocab, articles, download_terms, seconds):
    return [
        reader_plan(random.Random(SEED * 1000 + i), weights, vocab, articles, download_terms, seconds)
        for i in range(count)
    ]


@dataclass
class Target:
    """One server's way of asking for each action."""

    name: str
    db: str  # the database's name in URLs
    articles: list  # row keys, in the order of the bundle's articles
    lacks: frozenset = frozenset()
    # Stock's CSV without _stream holds only the first page of rows; the
    # bundle's streams every match (hkcnews/site/downloads.py).
    csv_extra: str = ""

    def path(self, kind, args):
        db, q = self.db, quote
        if kind == HOME:
            return {"home": "/", "database": f"/{db}", "table": f"/{db}/articles"}[args[0]]
        if kind == ARTICLE:
            return f"/{db}/articles/{self.articles[args[0]]}"
        if kind == TRENDS:
            return f"/{db}/-/trends?" + "&".join(f"q={q(t)}" for t in args)
        if kind == SEARCH_ALL:
            return f"/-/search?q={q(args[0])}"
        if kind == CANNED:
            return f"/{db}/search?q={q(args[0])}"
        url = f"/{db}/articles?_search={q(args[0])}"
        if kind == TAGGED:
            url += f"&tags__arraycontains={q(args[1])}"
        elif kind == CATEGORY:
            url += f"&category={q(args[1])}"
        return url

    def csv(self, term):
        return f"/{self.db}/articles.csv?_search={quote(term)}{self.csv_extra}"

    def count(self, term):
        extra = "&_extra=count" if compat.DATASETTE_1 else ""
        return f"/{self.db}/articles.json?_search={quote(term)}&_size=0{extra}"


# --- requests ------------------------------------------------------------


async def get_page(client, url):
    """(seconds, error or None): anything but a 200 is an error."""
    start = time.monotonic()
    try:
        response = await client.get(url)
        error = None if response.status_code == 200 else f"HTTP {response.status_code}"
    except httpx.TimeoutException:
        error = f"timeout ({TIMEOUT:.0f} s)"
    except httpx.HTTPError as e:
        error = type(e).__name__
    return time.monotonic() - start, error


class CsvRows:
    """Counts a CSV's data rows, with the csv module, as the text arrives,
    holding only a record not yet ended: a one-character search's CSV is
    hundreds of MB, and twenty of them may run at once. A record ends at a
    newline outside quotes, where the quotes seen are even in number.
    Only rows as wide as the header count: Datasette ends a CSV it stops
    early with its error's text as a line of its own."""

    def __init__(self):
        self.width, self.rows, self.stray = None, 0, 0
        self.partial, self.open, self.quotes = "", [], 0

    def feed(self, text):
        lines = (self.partial + text).split("\n")
        self.partial = lines.pop()
        records = []
        for line in lines:
            self.open.append(line)
            self.quotes += line.count('"')
            if self.quotes % 2 == 0:
                records.append("\n".join(self.open))
                self.open, self.quotes = [], 0
        self._count(records)

    def close(self):
        if self.partial:
            self.open.append(self.partial)
        if self.open:
            self._count(["\n".join(self.open)])
        self.partial, self.open = "", []

    def _count(self, records):
        for row in csv.reader(records):
            if self.width is None:
                self.width = len(row)
            elif len(row) == self.width:
                self.rows += 1
            else:
                self.stray += 1


async def _stream(client, url, rows):
    async with client.stream("GET", url, timeout=DOWNLOAD_TIMEOUT) as response:
        if response.status_code != 200:
            await response.aread()
            return response.status_code, response.headers.get("retry-after")
        async for text in response.aiter_text():
            rows.feed(text)
        rows.close()
        return 200, None


async def download(client, url, expected, began, deadline):
    """One whole download, its rows checked against ``expected``: a dict
    with its outcome, rows, seconds and when it started and ended."""
    started = time.monotonic()
    rows = CsvRows()
    result = {"url": url, "expected": expected, "started": started - began, "retry_after": None, "detail": ""}
    try:
        status, retry_after = await asyncio.wait_for(_stream(client, url, rows), max(1.0, deadline - started))
    except asyncio.TimeoutError:
        outcome = CUT
    except httpx.HTTPError as e:
        outcome, result["detail"] = BROKEN, f"({type(e).__name__})"
    except (csv.Error, UnicodeDecodeError) as e:
        outcome, result["detail"] = MALFORMED, f"({e})"
    else:
        if status == 429:
            outcome = REFUSED
            result["retry_after"] = int(retry_after) if (retry_after or "").isdigit() else 30
        elif status != 200:
            outcome = f"HTTP {status}"
        elif expected is None:
            outcome = UNCHECKED
        else:
            outcome = COMPLETE if rows.rows == expected else SHORT if rows.rows < expected else EXTRA
    ended = time.monotonic()
    result.update(outcome=outcome, rows=rows.rows, stray=rows.stray, seconds=ended - started, ended=ended - began)
    return result


async def expected_rows(client, target, terms):
    """{term: the count of its search}, asked before the run (the JSON's
    filtered_table_rows_count; on Datasette 1.0 with _extra=count, count).
    None when the count did not come in three tries (its time limit)."""
    counts = {}
    for term in terms:
        counts[term] = None
        for _ in range(3):
            with suppress(httpx.HTTPError, ValueError):
                response = await client.get(target.count(term), timeout=60)
                data = response.json() if response.status_code == 200 else {}
                counts[term] = data.get("filtered_table_rows_count", data.get("count"))
                if counts[term] is not None:
                    break
    return counts


@dataclass
class Day:
    """What one server's readers saw."""

    began: float
    stop: float
    deadline: float
    pages: Tally = field(default_factory=Tally)
    downloads: list = field(default_factory=list)


async def act(client, target, kind, args, day, expected):
    """One action; returns (term, when) for a download refused with 429."""
    if kind in target.lacks:
        return None  # a page stock does not have: its reader only pauses
    if kind == DOWNLOAD:
        result = await download(client, target.csv(args[0]), expected.get(args[0]), day.began, day.deadline)
        day.downloads.append(result)
        if result["outcome"] == REFUSED:
            return args[0], time.monotonic() + result["retry_after"]
        return None
    url = target.path(kind, args)
    seconds, error = await get_page(client, url)
    day.pages.add(kind, seconds, error and f"{error}: {url}")
    return None


async def reader(client, target, plan, day, expected):
    arrival, steps = plan
    await asyncio.sleep(arrival)
    retry = None  # a refused download, asked again once its Retry-After has passed
    for kind, args, pause in steps:
        if time.monotonic() >= day.stop:
            break
        if retry and time.monotonic() >= retry[1]:
            term, retry = retry[0], None
            retry = await act(client, target, DOWNLOAD, (term,), day, expected)
            await asyncio.sleep(pause)
            if time.monotonic() >= day.stop:
                break
        retry = await act(client, target, kind, args, day, expected) or retry
        await asyncio.sleep(pause)


def client_for(url, connections):
    # The cookie on every request: the bundle's page cache passes it through.
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=url, timeout=TIMEOUT, limits=limits, cookies=COMPUTE)


def clock(seconds, drain):
    began = time.monotonic()
    return Day(began=began, stop=began + seconds, deadline=began + seconds + drain)


async def busy_day(url, target, readers, terms, seconds, drain):
    async with client_for(url, len(readers)) as client:
        expected = await expected_rows(client, target, terms)
        day = clock(seconds, drain)
        await asyncio.gather(*(reader(client, target, plan, day, expected) for plan in readers))
    return day, expected


async def burst(url, target, readers, term, count, seconds, drain):
    """``count`` downloads of ``term`` from one client at once, a second
    in (once the readers have arrived), while ``readers`` read pages."""
    async with client_for(url, len(readers)) as client, client_for(url, count) as one_client:
        expected = (await expected_rows(client, target, [term]))[term]
        day = clock(seconds, drain)

        async def at_once():
            await asyncio.sleep(1)
            return await asyncio.gather(
                *(download(one_client, target.csv(term), expected, day.began, day.deadline) for _ in range(count))
            )

        day.downloads, *_ = await asyncio.gather(at_once(), *(reader(client, target, p, day, {}) for p in readers))
    return day, expected


# --- the servers ---------------------------------------------------------


def bundle_command(db, port):
    return [sys.executable, "-m", "hkcnews.serve", str(db), "--port", str(port), "--workers", str(WORKERS)]


def stock_command(db, port):
    # As bench/run.py serves stock: its row counts inspected once, as the bundle's are.
    counts = ensure_inspected(db, str(BIN / "datasette"))
    settings = [arg for name, value in SETTINGS.items() for arg in ("--setting", name, value)]
    return [
        str(BIN / "datasette"),
        "serve",
        "-i",
        str(db),
        "--inspect-file",
        str(counts),
        "--port",
        str(port),
        *settings,
    ]


def stop_group(process):
    """SIGTERM to the server's process group, then SIGKILL to whatever of
    it is left (a worker that outlived its parent, a parent that hung)."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(20)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


@contextmanager
def running(command, port, log):
    """A server on a loopback port in a process group of its own, its
    stderr in ``log``, stopped with all its processes however the run
    ends. (run.serving leaves the group running when SIGTERM has not
    stopped it within 20 s.)"""
    with open(log, "wb") as err:
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    try:
        for _ in range(600):
            if process.poll() is not None:
                raise SystemExit(f"{command[0]} exited with status {process.returncode}; see {log}")
            try:
                httpx.get(f"http://127.0.0.1:{port}/-/versions.json", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise SystemExit(f"no answer on port {port} within 60 s; see {log}")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_group(process)


def served(target, db, command, work):
    """The target's server, its file read once first so that neither is
    timed with its file still on disk (as bench/run.py does)."""
    read_whole(db)
    port = free_port()
    return running(command(db, port), port, work / f"{target.name}.log")


# --- the report ----------------------------------------------------------


def ms(value):
    return f"{value:,.0f}"


def kind_errors(day, kind):
    return sum(1 for k, _ in day.pages.errors if k == kind)


def page_totals(name, day, note=""):
    t = day.pages
    count = len(t.times) + len(t.errors)
    worst = ms(max(t.times) * 1000) if t.times else "-"
    return (
        f"| {name}{note} | {count:,} | {len(t.errors)} | {ms(t.percentile(0.5))} | {ms(t.percentile(0.95))} | "
        f"{ms(t.percentile(0.99))} | {worst} |"
    )


def pages_table(days):
    lines = [
        "| pages | count | errors | median ms | p95 ms | p99 ms | max ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, day in days.items():
        note = " (without trends and canned search)" if name == "stock" else ""
        lines.append(page_totals(name, day, note))
    return lines


def kind_cells(day, kind, lacks):
    if kind in lacks:
        return "n/a | n/a | n/a"
    times = day.pages.by_kind.get(kind, [])
    count = len(times) + kind_errors(day, kind)
    if not times:
        return f"{count} | - | -"
    return f"{count} | {ms(statistics.median(times) * 1000)} | {ms(day.pages.percentile(0.99, times))}"


def kinds_table(days, weights, lacks):
    names = list(days)
    lines = [
        "| kind | % | " + " | ".join(f"{n} count | {n} median ms | {n} p99 ms" for n in names) + " |",
        "| --- | ---: | " + " | ".join("---: | ---: | ---:" for _ in names) + " |",
    ]
    for kind, weight in weights.items():
        if kind != DOWNLOAD:
            cells = " | ".join(kind_cells(days[n], kind, lacks[n]) for n in names)
            lines.append(f"| {kind} | {weight:.1f} | {cells} |")
    return lines


def downloads_row(name, downloads):
    outcomes = Counter(d["outcome"] for d in downloads)
    complete = [d for d in downloads if d["outcome"] == COMPLETE]
    incomplete = sum(outcomes[o] for o in INCOMPLETE) + sum(n for o, n in outcomes.items() if o.startswith("HTTP"))
    median = f"{statistics.median(d['seconds'] for d in complete):.1f}" if complete else "-"
    seconds = sum(d["seconds"] for d in complete)
    rate = f"{sum(d['rows'] for d in complete) / seconds:,.0f}" if seconds else "-"
    detail = ", ".join(f"{o}: {n}" for o, n in outcomes.items() if o not in (COMPLETE, REFUSED))
    return (
        f"| {name} | {len(downloads)} | {outcomes[COMPLETE]} | {incomplete} | {outcomes[REFUSED]} | {median} | "
        f"{rate} | {detail} |"
    )


def downloads_table(days):
    lines = [
        "| downloads | count | complete | incomplete | 429, retried later | median s | rows/s | not complete |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    return lines + [downloads_row(name, day.downloads) for name, day in days.items()]


def trouble(days, counts):
    """The first errors of each server, with the URL that showed them."""
    lines = []
    for name, day in days.items():
        errors = Counter(message for _, message in day.pages.errors)
        bad = [d for d in day.downloads if d["outcome"] not in (COMPLETE, REFUSED)]
        for message, n in errors.most_common(10):
            lines.append(f"- {name}, page: {message} ({n}×)")
        for d in bad[:10]:
            lines.append(
                f"- {name}, download: {d['outcome']} {d['detail']} after {d['seconds']:.1f} s, "
                f"{d['rows']:,} of {d['expected']} rows: {d['url']}"
            )
        missing = [t for t, n in counts.get(name, {}).items() if n is None]
        if missing:
            lines.append(f"- {name}: no count for {', '.join(missing)}: their downloads are unchecked")
    return ["", "Errors:", "", *lines] if lines else ["", "No errors."]


def burst_cell(d):
    if d["outcome"] == REFUSED:
        return f"429 after {d['seconds']:.1f} s"
    expected = "?" if d["expected"] is None else f"{d['expected']:,}"
    outcome = " ".join(filter(None, [d["outcome"], d["detail"]]))
    return f"{outcome}: {d['rows']:,} of {expected} rows, {d['seconds']:.1f} s, ended at {d['ended']:.1f} s"


def burst_report(days, term, count, seconds):
    names = list(days)
    lines = [
        f"Burst: one client opens {count} whole downloads of the search {term} at once, 1 s in, while "
        f"{BURST_READERS} readers (pausing 1-3 s) read pages for {seconds} s.",
        "",
        "| readers' pages | count | errors | p50 ms | p95 ms | p99 ms | max ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        *(page_totals(n, d, " (without trends and canned search)" if n == "stock" else "") for n, d in days.items()),
        "",
        "| download | " + " | ".join(names) + " |",
        "| ---: | " + " | ".join("---" for _ in names) + " |",
    ]
    for i in range(count):
        lines.append(f"| {i + 1} | " + " | ".join(burst_cell(days[n].downloads[i]) for n in names) + " |")
    for n in names:
        outcomes = Counter(d["outcome"] for d in days[n].downloads)
        lines.append(f"\n{n}: " + ", ".join(f"{o} {k}" for o, k in outcomes.most_common()))
    return lines


def header(seeds, bundle_db, stock_db):
    conn = sqlite3.connect(f"file:{bundle_db}?mode=ro", uri=True)
    articles, files = (conn.execute(f"select count(*) from {t}").fetchone()[0] for t in ("articles", "captures"))
    conn.close()
    mb = lambda p: p.stat().st_size / 1e6  # noqa: E731
    line = (
        f"{cpu_model()}, {os.cpu_count()} cores; Datasette {datasette.version.__version__}, "
        f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}\n\n"
        f"Corpus: {files:,} files in {seeds}; the bundle's database: {articles:,} articles, {mb(bundle_db):,.0f} MB"
    )
    if stock_db:
        conn = sqlite3.connect(f"file:{stock_db}?mode=ro", uri=True)
        rows = conn.execute("select count(*) from articles").fetchone()[0]
        conn.close()
        line += f"; stock's: {rows:,} rows (one per file), {mb(stock_db):,.0f} MB"
    return line


# --- the runs ------------------------------------------------------------


def targets(bundle_db, stock_db):
    bundle_keys, stock_keys = article_keys(bundle_db, stock_db)
    found = [(Target("bundle", bundle_db.stem, bundle_keys), bundle_db, bundle_command)]
    if stock_db:
        stock = Target("stock", stock_db.stem, stock_keys, STOCK_LACKS, "&_stream=on")
        found.append((stock, stock_db, stock_command))
    return found, len(bundle_keys)


def run_day(args, found, vocab, articles, work):
    weights = mix(args.downloads)
    terms = vocab.broad if args.download_terms == "broad" else vocab.one_char
    readers = plans(READERS, weights, vocab, articles, terms, args.seconds)
    days, counts = {}, {}
    for target, db, command in found:
        with served(target, db, command, work) as url:
            print(f"{target.name}: {READERS} readers for {args.seconds} s on {url}", file=sys.stderr)
            days[target.name], counts[target.name] = asyncio.run(
                busy_day(url, target, readers, terms if args.downloads else [], args.seconds, args.drain)
            )
    lacks = {t.name: t.lacks for t, _, _ in found}
    lines = [
        f"A busy day: {READERS} readers pausing 1-3 s, {args.seconds} s per server, one server after the other, "
        f"the same seeded actions; every request with a cookie, so every page is computed.",
        "",
        *pages_table(days),
        "",
        *kinds_table(days, weights, lacks),
    ]
    if "stock" in days:
        lines += [
            "",
            "Stock has no trends page and no canned search: n/a, left out of its totals (its readers pause "
            "instead). Its tags column is a JSON string, so tags__arraycontains works on it.",
        ]
    if args.downloads:
        lines += [
            "",
            f"Whole-search CSV downloads, {args.downloads}% of actions, {args.download_terms} terms "
            f"({', '.join(terms)}); complete = data rows equal to the search's count on the same server; "
            "seconds from the request to the last byte, a turn in the bundle's download queue included."
            + (f" {STOCK_CSV}" if "stock" in days else ""),
            "",
            *downloads_table(days),
        ]
    return lines + trouble(days, counts)


def broadest(db, terms):
    """The term of ``terms`` the most articles match, as the bundle searches."""
    from hkcnews.terms import fts_query

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    sql = "select count(*) from articles_fts where articles_fts match ?"
    best = max(terms, key=lambda t: conn.execute(sql, [fts_query(t)]).fetchone()[0])
    conn.close()
    return best


def run_burst(args, found, vocab, articles, bundle_db, work):
    readers = plans(BURST_READERS, mix(0), vocab, articles, [], args.seconds)
    term = broadest(bundle_db, vocab.one_char)
    days, counts = {}, {}
    for target, db, command in found:
        with served(target, db, command, work) as url:
            print(f"{target.name}: a burst of {args.burst} downloads of {term} on {url}", file=sys.stderr)
            day, expected = asyncio.run(burst(url, target, readers, term, args.burst, args.seconds, args.drain))
            days[target.name], counts[target.name] = day, {term: expected}
    lines = burst_report(days, term, args.burst, args.seconds)
    if "stock" in days:
        lines += ["", f"{STOCK_CSV} Stock's readers skip the trends page and the canned search (n/a above)."]
    return lines + trouble({n: Day(d.began, d.stop, d.deadline, d.pages) for n, d in days.items()}, counts)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=100_000, help="files shaped like the backup to generate")
    parser.add_argument("--seeds", type=Path, help="a folder of articles instead (real ones, or files made before)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/hkcnews-busy"))
    parser.add_argument("--seconds", type=int, default=120, help="how long readers read, per server")
    parser.add_argument("--downloads", type=int, choices=(0, 2, 5), default=0, help="percent of whole-search CSVs")
    parser.add_argument("--download-terms", choices=("broad", "one-char"), default="broad")
    parser.add_argument("--burst", type=int, metavar="N", help="N downloads at once while 20 readers read pages")
    parser.add_argument("--no-stock", action="store_true", help="the bundle only")
    parser.add_argument(
        "--drain", type=int, default=600, help="seconds a download still running at the end is given (default 600)"
    )
    args = parser.parse_args()

    work = args.workdir.resolve()
    seeds = (args.seeds or make_corpus(args.files, work / f"corpus-{args.files}")).resolve()
    bundle_db, stock_db = databases(seeds, work, not args.no_stock)
    vocab = vocabulary(bundle_db)
    found, articles = targets(bundle_db, stock_db)
    lines = [
        header(seeds, bundle_db, stock_db),
        "",
        f"Terms (seed {SEED}): {len(vocab.terms)} searches ({', '.join(vocab.terms[:12])}, …), "
        f"{len(vocab.tags)} tags, categories {', '.join(vocab.categories)}",
        "",
    ]
    if args.burst:
        lines += run_burst(args, found, vocab, articles, bundle_db, work)
    else:
        lines += run_day(args, found, vocab, articles, work)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
