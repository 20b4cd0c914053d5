#!/usr/bin/env python
"""The hostile queries of tests/test_public.py against a served archive of
realistic size: what each costs a worker, and whether the workers survive.

    python bench/hostile.py [--files 30000 | --seeds DIR] [--workdir /tmp/hkcnews-hostile]

Builds (once, in --workdir; see bench/memory.py) a database of N files shaped
like the backup, whose long articles make ``group_concat(body)`` tens of
megabytes, serves it with `python -m hkcnews.serve --workers 2` on a loopback
port and sends each SQL of HOSTILE_SQL in each form a visitor can: the JSON
(/news.json?sql=), the CSV (/news.csv?sql=, on Datasette 1.0
/news/-/query.csv?sql=) and the HTML page (/news?sql=), one at a time.

Prints one Markdown table row per query and form: the status, the seconds,
the start of the error message, the worker that answered, each worker's peak
memory (VmHWM) afterwards, and whether both workers are still the processes
of the start and each still answers a computed page. Then the highest peak of
any worker.

Then the one-call CPU queries of tests/test_hostile_queries.py (CPU_SQL,
`--queries cpu` for those alone): the median seconds of --repeat runs on a
connection of stock SQLite with only the length and column limits (what
limits.py set before it bounded printf and LIKE; a run over SLOW_SECONDS is
not repeated), on one that limits.bound() prepared, and served in each form.
Run by hand; nothing here is a test.
"""

import argparse
import html
import json
import re
import sqlite3
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from memory import build_database, connection_owners, memory_mb, serving, worker_pids  # noqa: E402
from run import COMPUTE, cpu_model  # noqa: E402

from hkcnews.site.limits import MAX_COLUMNS, MAX_VALUE_BYTES, bound  # noqa: E402
from tests.helpers import SQL_CSV  # noqa: E402
from tests.test_hostile_queries import CPU_SQL  # noqa: E402
from tests.test_public import HOSTILE_SQL  # noqa: E402

FORMS = {"json": "/news.json", "csv": SQL_CSV, "html": "/news"}
TIMEOUT = 60.0
SLOW_SECONDS = 5.0
# New connections tried to reach each worker: the kernel hands each to
# whichever worker accepts first, so a few may go to the same one.
PROBES = 20
PROBE_PATH = "/news/articles.json?_size=1"

# Where Datasette's pages put an error: the query page's message and the
# error page's box (hkcnews/site/refusals.py renders error.html too).
HTML_ERRORS = [
    re.compile(r'<p class="message-error">(.*?)</p>', re.S),
    re.compile(r'<div style="padding: 1em; margin: 1em 0; border: 3px solid red;">(.*?)</div>', re.S),
]


def error_message(form, response):
    """The error a visitor reads, on one line, or "" for none."""
    text = response.text
    if form == "json":
        try:
            message = json.loads(text).get("error") or ""
        except (ValueError, AttributeError):
            message = text
    elif form == "html":
        found = next((m.group(1) for pattern in HTML_ERRORS if (m := pattern.search(text))), "")
        message = html.unescape(re.sub(r"<[^>]+>", "", found))
    else:
        # A CSV that fails is the error alone; one that works is rows.
        message = text if response.status_code != 200 else ""
    return " ".join(str(message).split())


def owner(client_response, process, port):
    """The worker pid that answered, while its connection is still open."""
    try:
        client_port = client_response.extensions["network_stream"].get_extra_info("client_addr")[1]
    except (KeyError, TypeError, OSError):
        return None
    return connection_owners(worker_pids(process), port).get(client_port)


def send(url, process, port):
    """(status or exception name, seconds, response or None, worker pid)."""
    start = time.monotonic()
    with httpx.Client(timeout=TIMEOUT, follow_redirects=True) as client:
        try:
            response = client.get(url)
        except httpx.HTTPError as e:
            return type(e).__name__, time.monotonic() - start, None, None
        return response.status_code, time.monotonic() - start, response, owner(response, process, port)


def answering(base, process, port, workers):
    """The workers among ``workers`` that answered a computed page, each on
    a new connection, trying until every one has or PROBES were sent."""
    answered, failures = set(), []
    for _ in range(PROBES):
        with httpx.Client(timeout=TIMEOUT, cookies=COMPUTE) as client:
            try:
                response = client.get(base + PROBE_PATH)
            except httpx.HTTPError as e:
                failures.append(type(e).__name__)
                continue
            if response.status_code == 200:
                answered.add(owner(response, process, port))
            else:
                failures.append(str(response.status_code))
        if set(workers) <= answered:
            break
    return answered, failures


def cell(text):
    """Text safe in a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def corpus_line(db):
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    files = conn.execute("select count(*) from captures").fetchone()[0]
    articles, body_bytes, longest = conn.execute(
        "select count(*), sum(length(cast(body as blob))), max(length(body)) from articles"
    ).fetchone()
    conn.close()
    return (
        f"{files:,} files: {articles:,} articles, longest body {longest:,} characters; "
        f"group_concat(body) would be {body_bytes / 1e6:,.1f} MB, "
        f"{body_bytes / MAX_VALUE_BYTES:,.0f} times the length limit (hkcnews/site/limits.py)"
    )


def run_once(conn, sql):
    """(seconds, what one query answered or its error) on ``conn``."""
    start = time.monotonic()
    try:
        answer = conn.execute(sql).fetchone()[0]
        answer = f"{len(answer):,} long" if isinstance(answer, (str, bytes)) else repr(answer)
    except sqlite3.Error as e:
        answer = f"{type(e).__name__}: {e}"
    return time.monotonic() - start, answer


def median_seconds(run, repeat):
    """(median seconds, runs, the last answer) of up to ``repeat`` runs of
    ``run``, stopping after one over SLOW_SECONDS."""
    times = []
    for _ in range(repeat):
        seconds, answer = run()
        times.append(seconds)
        if seconds > SLOW_SECONDS:
            break
    return statistics.median(times), len(times), answer


def stock_connection(db):
    """The archive as limits.py bounded it before printf and LIKE: the
    length and column limits alone."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    conn.setlimit(sqlite3.SQLITE_LIMIT_COLUMN, MAX_COLUMNS)
    return conn


def cpu_rows(db, base, process, port, repeat):
    """A Markdown table row for each query of CPU_SQL."""
    stock, archive = stock_connection(db), sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    bound(archive)
    rows = []
    for sql, _, _ in CPU_SQL:
        cells = []
        for conn in (stock, archive):
            seconds, runs, answer = median_seconds(lambda conn=conn, sql=sql: run_once(conn, sql), repeat)
            cells.append(f"{seconds:.2f} ({runs}×): {cell(answer[:40])}")
        for path in FORMS.values():
            url = f"{base}{path}?{urlencode({'sql': sql})}"
            statuses = []

            def served(url=url, statuses=statuses):
                status, seconds, _, _ = send(url, process, port)
                statuses.append(status)
                return seconds, str(status)

            seconds, runs, _ = median_seconds(served, repeat)
            cells.append(f"{'/'.join(map(str, sorted(set(statuses))))} {seconds:.2f}")
        print(f"cpu {cells[0][:12]} → {cells[1][:12]} {sql[:60]}", file=sys.stderr, flush=True)
        rows.append(f"| `{cell(sql)}` | " + " | ".join(cells) + " |")
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=30_000, help="files shaped like the backup to generate")
    parser.add_argument("--seeds", type=Path, help="a folder of articles instead (real ones, or files made before)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/hkcnews-hostile"))
    parser.add_argument("--queries", choices=["all", "size", "cpu"], default="all", help="HOSTILE_SQL, CPU_SQL or both")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each CPU_SQL query, for the median")
    args = parser.parse_args()

    db = build_database(args.files, args.seeds, args.workdir)
    log_path = args.workdir / "serve.log"
    rows, peaks, notes, cpu = [], {}, [], []
    with serving(db, log_path) as (process, port):
        base = f"http://127.0.0.1:{port}"
        workers = worker_pids(process)
        names = {pid: f"worker {i + 1}" for i, pid in enumerate(workers)}
        if args.queries in ("all", "cpu"):
            cpu = cpu_rows(db, base, process, port, args.repeat)
        for sql in HOSTILE_SQL if args.queries in ("all", "size") else []:
            for form, path in FORMS.items():
                url = f"{base}{path}?{urlencode({'sql': sql})}"
                status, seconds, response, by = send(url, process, port)
                message = error_message(form, response) if response is not None else ""
                hwm = {pid: memory_mb(pid)[1] for pid in workers}
                for pid, mb in hwm.items():
                    if mb is not None:
                        peaks[pid] = max(peaks.get(pid, 0), mb)
                answered, failures = answering(base, process, port, workers)
                same = worker_pids(process) == workers
                healthy = same and set(workers) <= answered
                verdict = "yes" if healthy else f"NO: pids {worker_pids(process)}, answered {sorted(answered)}"
                if failures:
                    verdict += f"; probes failed: {', '.join(failures[:5])}"
                peak_cells = " | ".join("gone" if hwm[p] is None else f"{hwm[p]:,.0f}" for p in workers)
                rows.append(
                    f"| `{cell(sql)}` | {form} | {status} | {seconds:.2f} | {cell(message[:100])} | "
                    f"{names.get(by, by)} | {peak_cells} | {verdict} |"
                )
                if status == 500 or not isinstance(status, int) or seconds > SLOW_SECONDS or not healthy:
                    notes.append(f"- {status}, {seconds:.1f} s, workers fine: {verdict}: {url}")
                print(f"{form} {status} {seconds:.2f}s {sql[:60]}", file=sys.stderr, flush=True)
        final = worker_pids(process)
    deaths = [line for line in log_path.read_text().splitlines() if "hkcnews.serve: worker" in line]

    print(f"\n{corpus_line(db)}; {cpu_model()}; python -m hkcnews.serve --workers 2")
    if args.queries != "cpu":
        print()
        heads = " | ".join(f"{names[p]} peak MB" for p in workers)
        print(f"| SQL | form | status | s | error | answered by | {heads} | same workers, both answer |")
        print("| --- | --- | ---: | ---: | --- | --- | " + " | ".join("---:" for _ in workers) + " | --- |")
        print("\n".join(rows))
        highest = max(peaks.items(), key=lambda item: item[1], default=(None, 0))
        print(f"\nhighest VmHWM of any worker: {highest[1]:,.0f} MB ({names.get(highest[0], highest[0])})")
        print(f"workers at the start {workers}, at the end {final}; deaths the server reported: {len(deaths)}")
        for line in deaths:
            print(f"- {line}")
        print(f"500s, failures, requests over {SLOW_SECONDS:.0f} s or workers not answering: {len(notes)}")
        print("\n".join(notes))
    if cpu:
        print(f"\nOne call each, median seconds of up to {args.repeat} runs (answer or error):\n")
        print(
            "| SQL | stock SQLite, length limit only | limits.bound() | json status, s | csv status, s | "
            "html status, s |"
        )
        print("| --- | --- | --- | --- | --- | --- |")
        print("\n".join(cpu))


if __name__ == "__main__":
    main()
