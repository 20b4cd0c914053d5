"""Build the archive's SQLite database from a folder of archived articles.

    hkcnews-build [--seeds DIR] [--db PATH] [--skip-invalid] [--full] [--workers N]

(``python build_db.py`` in a checkout takes the same flags.) Every file is a
web-archive capture; captures of one article are reconciled into one row of
articles, and every file has its row in captures. The database is written to
a temporary file beside PATH and renamed over it only when the build
succeeded, so a failed or interrupted build leaves the previous database
exactly as it was. When PATH was built before by the same code, only the
groups of captures that changed are read again.
"""

import argparse
import sqlite3
import sys
from pathlib import Path

from hkcnews.build import BuildFailed, build


def summary_line(db_path, summary):
    return (
        f"{db_path}: {summary['captures']:,} files: {summary['articles']:,} articles "
        f"({summary['repeats']:,} repeats, {summary['failed']:,} failed captures), "
        f"{summary['figures']:,} figures, {summary['tags']:,} tags, {summary['authors']:,} authors, "
        f"{len(summary['warnings']):,} warnings, {len(summary['skipped']):,} skipped "
        f"({summary['read']:,} files read) in {summary['seconds']:.1f} s"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="seeds", type=Path, help="folder of *.md articles (default: seeds)")
    parser.add_argument("--db", default="news.db", type=Path, help="database to write (default: news.db)")
    parser.add_argument(
        "--skip-invalid", action="store_true", help="build from the valid files, listing the ones skipped"
    )
    parser.add_argument("--full", action="store_true", help="read every file again, even if few changed")
    parser.add_argument("--workers", type=int, help="processes that read files (default: one per core)")
    args = parser.parse_args(argv)
    if args.workers is not None and args.workers < 1:
        parser.error(f"--workers {args.workers}: must be 1 or more")
    try:
        summary = build(
            args.seeds,
            args.db,
            args.skip_invalid,
            workers=args.workers,
            show_progress=sys.stderr.isatty(),
            full=args.full,
        )
    except BuildFailed as e:
        for error in e.errors:
            print(f"error: {error}", file=sys.stderr)
        print(
            f"build failed: {len(e.errors)} invalid file(s); {args.db} was not changed "
            "(--skip-invalid builds the rest)",
            file=sys.stderr,
        )
        return 1
    except (sqlite3.Error, OSError, RuntimeError) as e:
        # A full disk, a read-only folder, a vanished file: the temporary
        # file is gone already and the database untouched.
        print(f"error: writing {args.db} failed: {e}", file=sys.stderr)
        print(f"build failed; {args.db} was not changed", file=sys.stderr)
        return 1
    for warning in summary["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    for skipped in summary["skipped"]:
        print(f"skipped: {skipped}", file=sys.stderr)
    print(summary_line(args.db, summary))
    return 0
