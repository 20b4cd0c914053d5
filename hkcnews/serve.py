"""Serve a built database as a public instance should, in one place:

    python -m hkcnews.serve news.db [--host 127.0.0.1] [--port 8001]

runs ``datasette inspect`` once per build (row counts, so no page counts
a table) and then ``datasette serve`` on the immutable file with the
settings below. ``make serve`` and the benchmark both call this.
"""
import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

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
    # Full CSV exports stream, up to 100 MB each.
    "allow_csv_stream": "on",
    "max_csv_mb": "100",
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


def datasette_args(db, host="127.0.0.1", port=8001, metadata=ROOT / "metadata.yml"):
    """The `datasette serve` arguments for a built database."""
    args = ["serve", "-i", str(db), "--inspect-file", str(inspect_file(db)), "-m", str(metadata)]
    args += ["--host", host, "--port", str(port)]
    for name, value in SETTINGS.items():
        args += ["--setting", name, value]
    return args


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("db")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args(argv)
    datasette = str(Path(sys.executable).with_name("datasette"))
    ensure_inspected(args.db, datasette)
    os.execv(datasette, [datasette, *datasette_args(args.db, args.host, args.port)])


if __name__ == "__main__":
    main()
