"""Serve a built database as a public instance should, in one place:

    python -m hkcnews.serve news.db [--host 127.0.0.1] [--port 8001] [--workers N] [--public-url URL]

runs ``datasette inspect`` once per build (row counts, so no page counts
a table) and then the Datasette that ``datasette serve`` would run on the
immutable file with the settings below, in N uvicorn worker processes
(hkcnews/serve/asgi.py; the default: one per core), since one process renders
pages on one core. It refuses a file that is not an
archive; replaces a worker that dies, saying which and why on stderr; and
exits non-zero, the worker's error on stderr, when a worker cannot start
or workers keep dying. ``make serve`` calls this.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from hkcnews import config
from hkcnews.ours import not_an_archive
from hkcnews.serve.supervisor import listening_socket, serve_in_workers

# Tell each worker process (hkcnews/serve/asgi.py) which database to serve, and
# the public address for its pages' links (hkcnews/site/address.py).
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
    # download (hkcnews/site/downloads.py breaks off one that ends early).
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
            config.public_url_parts(args.public_url)
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
    # One download queue and one folder of kept downloads for all the workers.
    with tempfile.TemporaryDirectory(prefix="hkcnews-downloads-") as queue:
        os.environ.setdefault(config.DOWNLOADS_VARIABLE, queue)
        return serve_in_workers(sock, args.host, args.port, args.workers)
