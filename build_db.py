#!/usr/bin/env python
"""Build the archive's SQLite database from a folder of Markdown articles.

    python build_db.py [--seeds DIR] [--db PATH] [--skip-invalid]

The database is written to a temporary file beside PATH and renamed over it
only when the build succeeded, so a failed or interrupted build leaves the
previous database exactly as it was.
"""
import argparse
import multiprocessing
import os
import sys
import threading
import time
from pathlib import Path

import click

from hkcnews.schema import Writer, prepare_file

TEMP_MARK = ".building-"
# Parsed articles waiting for the writer at most: workers parse faster than
# one process writes, and without a bound the backlog would hold the corpus.
IN_FLIGHT = 2000


class BuildFailed(Exception):
    def __init__(self, errors):
        super().__init__(f"{len(errors)} invalid file(s)")
        self.errors = errors


def article_paths(seeds):
    """Every *.md below ``seeds``, in an order that does not depend on the
    file system: sorted by path relative to ``seeds``."""
    paths = [(p, p.relative_to(seeds).as_posix()) for p in seeds.rglob("*.md") if p.is_file()]
    return sorted(paths, key=lambda pair: pair[1])


def bounded(jobs, slots):
    """Yield jobs only while a slot is free; the consumer releases one per
    result. Pool.imap reads its input on a thread of its own, so this blocks
    that thread, not the writer."""
    for job in jobs:
        slots.acquire()
        yield job


def temp_path(db_path):
    return db_path.with_name(f".{db_path.name}{TEMP_MARK}{os.getpid()}")


def remove_stale_temp_files(db_path):
    """Delete what a killed build left beside the database."""
    for stale in db_path.parent.glob(f".{db_path.name}{TEMP_MARK}*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and pid != str(os.getpid()) and _running(int(pid)):
            continue
        stale.unlink(missing_ok=True)


def _running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def build(seeds, db_path, skip_invalid=False, workers=None, show_progress=False):
    """Build ``db_path`` from the articles under ``seeds``.

    Returns a summary dict (articles, figures, tags, authors, warnings,
    skipped, seconds). Raises BuildFailed listing every invalid file unless
    ``skip_invalid``; the previous database is then left untouched.
    """
    start = time.perf_counter()
    seeds, db_path = Path(seeds), Path(db_path)
    if not seeds.is_dir():
        raise BuildFailed([f"{seeds}: not a folder of articles"])
    jobs = article_paths(seeds)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(db_path)
    tmp = temp_path(db_path)
    warnings, errors, skipped = [], [], []
    seen_ids = {}
    try:
        writer = Writer(str(tmp))
        workers = workers or os.cpu_count() or 1
        slots = threading.Semaphore(IN_FLIGHT)
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            results = pool.imap(prepare_file, bounded(jobs, slots), chunksize=16)
            with click.progressbar(
                results, length=len(jobs), label="Reading articles", file=None if show_progress else open(os.devnull, "w")
            ) as bar:
                for kind, payload in bar:
                    slots.release()
                    if kind == "invalid":
                        errors.append(payload)
                        continue
                    if kind == "skipped":
                        skipped.append(payload)
                        continue
                    article = payload["article"]
                    first = seen_ids.setdefault(article["id"], article["source_path"])
                    if first != article["source_path"]:
                        errors.append(
                            f"{article['source_path']}: article id {article['id']} is already used by {first}"
                        )
                        continue
                    warnings.extend(payload["warnings"])
                    writer.add(payload)
        if errors and not skip_invalid:
            raise BuildFailed(errors)
        counts = writer.finish()
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, db_path)
    finally:
        tmp.unlink(missing_ok=True)
    return {
        **counts,
        "warnings": warnings,
        "skipped": skipped + errors,
        "seconds": time.perf_counter() - start,
    }


def summary_line(db_path, summary):
    return (
        f"{db_path}: {summary['articles']:,} articles, {summary['figures']:,} figures, "
        f"{summary['tags']:,} tags, {summary['authors']:,} authors, "
        f"{len(summary['warnings']):,} warnings, {len(summary['skipped']):,} skipped "
        f"in {summary['seconds']:.1f} s"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="seeds", type=Path, help="folder of *.md articles (default: seeds)")
    parser.add_argument("--db", default="news.db", type=Path, help="database to write (default: news.db)")
    parser.add_argument(
        "--skip-invalid", action="store_true", help="build from the valid files, listing the ones skipped"
    )
    args = parser.parse_args(argv)
    try:
        summary = build(args.seeds, args.db, args.skip_invalid, show_progress=sys.stderr.isatty())
    except BuildFailed as e:
        for error in e.errors:
            print(f"error: {error}", file=sys.stderr)
        print(
            f"build failed: {len(e.errors)} invalid file(s); {args.db} was not changed "
            "(--skip-invalid builds the rest)",
            file=sys.stderr,
        )
        return 1
    for warning in summary["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    for skipped in summary["skipped"]:
        print(f"skipped: {skipped}", file=sys.stderr)
    print(summary_line(args.db, summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
