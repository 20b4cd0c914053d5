"""Serve a built database as a public instance should, in one place:

    python -m hkcnews.serve news.db [--host 127.0.0.1] [--port 8001] [--workers N] [--public-url URL]

runs ``datasette inspect`` once per build (row counts, so no page counts
a table) and then the Datasette that ``datasette serve`` would run on the
immutable file with the settings below, in N uvicorn worker processes
(hkcnews/asgi.py; the default: one per core), since one process renders
pages on one core. It refuses a file that is not an
archive; replaces a worker that dies, saying which and why on stderr; and
exits non-zero, the worker's error on stderr, when a worker cannot start
or workers keep dying. ``make serve`` calls this.
"""

import argparse
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from . import config
from .address import PLUGIN, public_address
from .config import ROOT

# Tell each worker process (hkcnews/asgi.py) which database to serve, and
# the public address for its pages' links (hkcnews/address.py).
DB_VARIABLE = "HKCNEWS_DB"
PUBLIC_URL_VARIABLE = "HKCNEWS_PUBLIC_URL"

SETTINGS = {
    # Suggested facets run several queries per column, the body included, on
    # every table page; the useful facets are configured in metadata.yml.
    "suggest_facets": "off",
    # Table pages show the start of each long cell; the row page, CSV and
    # JSON have it all.
    "truncate_cells_html": "200",
    # Arbitrary SQL stays open to everyone but stops after a second.
    "sql_time_limit_ms": "1000",
    "max_returned_rows": "1000",
    # Full CSV exports stream every row: the whole articles table is one
    # download (hkcnews/downloads.py breaks off one that ends early).
    "allow_csv_stream": "on",
    "max_csv_mb": "0",
    # The file never changes while served: let browsers and proxies keep pages.
    "default_cache_ttl": "3600",
}


def inspect_file(db):
    return Path(db).with_name(Path(db).name + ".inspect.json")


def ensure_inspected(db, datasette="datasette"):
    """Row counts for --inspect-file, recomputed when the database is newer."""
    counts = inspect_file(db)
    if not counts.exists() or counts.stat().st_mtime < Path(db).stat().st_mtime:
        tmp = counts.with_name(counts.name + ".tmp")
        subprocess.run([datasette, "inspect", str(db), "--inspect-file", str(tmp)], check=True)
        os.replace(tmp, counts)
    return counts


def datasette_args(db, host="127.0.0.1", port=8001, metadata=None, folder=None):
    """The `datasette serve` arguments for a built database, with
    metadata.yml (or ``metadata``, a dict written the same way) in the form
    the installed Datasette reads, written beside the database or in
    ``folder`` (news.db.metadata.yml, and on Datasette 1.0
    news.db.datasette.yml)."""
    db = Path(db)
    args = ["serve", "-i", str(db), "--inspect-file", str(inspect_file(db))]
    args += config.write(folder or db.parent, f"{db.name}.", metadata)
    args += ["--host", host, "--port", str(port)]
    for name, value in SETTINGS.items():
        args += ["--setting", name, value]
    return args


def with_public_url(metadata, public_url):
    """The metadata with the plugin setting public_url (hkcnews/address.py), when given."""
    if not public_url:
        return metadata
    plugins = dict(metadata.get("plugins") or {})
    plugins[PLUGIN] = {**(plugins.get(PLUGIN) or {}), "public_url": public_url}
    return {**metadata, "plugins": plugins}


def deploy_lock(line=config.LINE):
    """What a deploy installs: the lock of a Datasette line (by default the
    one installed here, which the tests ran on)."""
    return ROOT / "requirements" / f"datasette-{line}.txt"


def publish_args(
    db="news.db", wheel="dist/hkcnews_archive-0.1.0-py3-none-any.whl", service="hkcnews-archive", line=config.LINE
):
    """`datasette publish cloudrun` arguments for stateless replicas: the
    immutable database; the files ``python -m hkcnews.config dist`` wrote
    (metadata, and for Datasette 1.0 its configuration, which publish has
    no option for: it is read from the image's copy of dist/); this bundle
    as a wheel with the deploy lock beside it (Datasette's Dockerfile
    copies --static folders into the image before its pip install, so both
    install from /app/dist, the lock as pip's constraints: the versions the
    tests ran with) and the settings above. ``datasette package`` takes the
    same arguments but the Cloud Run ones."""
    wheel = Path(wheel)
    options = [f"--setting {name} {value}" for name, value in SETTINGS.items()]
    if line == "1.0":
        options.append(f"-c {wheel.parent}/datasette.yml")
    return [
        "datasette",
        "publish",
        "cloudrun",
        str(db),
        "-m",
        f"{wheel.parent}/metadata.yml",
        "--static",
        f"dist:{wheel.parent}",
        "--install",
        f"-c /app/dist/{deploy_lock(line).name}",
        "--install",
        f"/app/dist/{wheel.name}",
        "--extra-options",
        " ".join(options),
        "--service",
        service,
        "--memory",
        "2Gi",
        "--cpu",
        "2",
        "--min-instances",
        "1",
        "--max-instances",
        "10",
    ]


def not_an_archive(db):
    """Why ``db`` cannot be served as an archive, or None."""
    from .ours import built_by_this_bundle

    if not Path(db).is_file():
        return f"{db}: no such file"
    try:
        conn = sqlite3.connect(f"file:{Path(db).resolve()}?mode=ro", uri=True)
        try:
            built = built_by_this_bundle(conn)
        finally:
            conn.close()
    except sqlite3.Error as e:
        return f"{db}: not an SQLite database ({e})"
    if not built:
        return f"{db}: not an archive built by this version of build_db.py (python build_db.py --seeds DIR --db {db})"
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("db")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="server processes (default: one per core)"
    )
    parser.add_argument(
        "--public-url",
        help="the address readers use (https://archive.example.org), for the links in pages; "
        "by default the address this server listens on (see docs/public.md)",
    )
    args = parser.parse_args(argv)
    problem = not_an_archive(args.db)
    if args.workers < 1:
        problem = f"--workers {args.workers}: must be 1 or more"
    if args.public_url:
        try:
            public_address(args.public_url, None)
        except ValueError as e:
            problem = f"--public-url: {e}"
    if problem:
        print(f"hkcnews.serve: {problem}", file=sys.stderr)
        return 2
    datasette = str(Path(sys.executable).with_name("datasette"))
    ensure_inspected(args.db, datasette)
    os.environ[DB_VARIABLE] = str(Path(args.db).resolve())
    if args.public_url:
        os.environ[PUBLIC_URL_VARIABLE] = args.public_url
    try:
        sock = listening_socket(args.host, args.port)
    except OSError as e:
        print(f"hkcnews.serve: cannot listen on {args.host}:{args.port}: {e.strerror}", file=sys.stderr)
        return 1
    return serve_in_workers(sock, args.host, args.port, args.workers)


def listening_socket(host, port):
    # uvicorn makes its shared socket with protocol 0, so asyncio does not
    # set TCP_NODELAY on the connections it accepts, and a keep-alive client
    # waited 40 ms (Nagle's algorithm against delayed ACKs) for a 7 ms
    # article page. A socket made as IPPROTO_TCP gets it.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


# More deaths than this within CRASH_WINDOW seconds is a crash loop.
MAX_DEATHS, CRASH_WINDOW = 5, 60


def run_worker(sock, host, port, ready):
    """One worker process: hkcnews/asgi.py under uvicorn on the shared
    socket; sets ``ready`` once it takes requests."""
    import uvicorn

    class Worker(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets=sockets)
            if self.started:
                ready.set()

    Worker(uvicorn.Config("hkcnews.asgi:app", host=host, port=port, lifespan="on")).run(sockets=[sock])


def why_it_stopped(exitcode):
    """A worker's exit status in words."""
    if exitcode < 0:
        name = signal.Signals(-exitcode).name
        cause = " (as the kernel's out-of-memory killer does)" if name == "SIGKILL" else ""
        return f"was killed by {name}{cause}"
    return f"exited with status {exitcode}"


def serve_in_workers(sock, host, port, workers):
    """hkcnews/asgi.py in ``workers`` processes sharing one socket, until
    SIGINT or SIGTERM (returns 0). A worker that dies is replaced, and
    stderr says which and why; the others go on answering, and the socket
    stays open. Returns 1 when a worker cannot start, or when workers keep
    dying (more than MAX_DEATHS in CRASH_WINDOW seconds).

    Written here rather than with uvicorn's --workers supervisor because
    that one restarts a worker that dies, forever: a worker that could not
    start (a Datasette the plugin does not support, say) was restarted two
    or three times a second for as long as anyone let it, and nothing
    exited or said why.
    """
    context = multiprocessing.get_context("spawn")
    # glibc gives each of a worker's SQL threads a malloc arena of its own;
    # pages freed in one are not reused by another, and a worker's memory
    # grew with the pages it had served. Two arenas keep it flat.
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")

    def start():
        ready = context.Event()
        process = context.Process(target=run_worker, args=(sock, host, port, ready))
        process.ready = ready
        process.start()
        return process

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    processes = [start() for _ in range(workers)]
    deaths, failure = [], None
    while not stop.is_set() and failure is None:
        multiprocessing.connection.wait([p.sentinel for p in processes], timeout=0.5)
        if stop.is_set():
            break  # workers that stop on the same Ctrl-C as this process did not die
        for i, process in enumerate(processes):
            if process.exitcode is None:
                continue
            why = why_it_stopped(process.exitcode)
            now = time.monotonic()
            deaths = [t for t in deaths if now - t < CRASH_WINDOW] + [now]
            # An error before it took requests would recur; a signal (the
            # out-of-memory killer, an operator) need not.
            if not process.ready.is_set() and process.exitcode > 0:
                failure = f"worker {i + 1} (pid {process.pid}) could not start: it {why}, its error above"
                break
            if len(deaths) > MAX_DEATHS:
                failure = f"{len(deaths)} workers died within {CRASH_WINDOW} s; the last, worker {i + 1} (pid {process.pid}), {why}"
                break
            print(
                f"hkcnews.serve: worker {i + 1} (pid {process.pid}) {why}; starting another",
                file=sys.stderr,
                flush=True,
            )
            processes[i] = start()
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(10)
        if process.exitcode is None:
            process.kill()
            process.join()
    if failure:
        print(f"hkcnews.serve: {failure}; stopped the others", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
