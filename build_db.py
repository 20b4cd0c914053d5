#!/usr/bin/env python
"""Build the archive's SQLite database from a folder of Markdown articles.

    python build_db.py [--seeds DIR] [--db PATH] [--skip-invalid] [--full]

The database is written to a temporary file beside PATH and renamed over it
only when the build succeeded, so a failed or interrupted build leaves the
previous database exactly as it was. When PATH was built before by the same
code, only the files added, changed or deleted since are read again.
"""
import argparse
import multiprocessing
import os
import re
import shutil
import sqlite3
import sys
import threading
import time
from pathlib import Path

import click

from hkcnews.schema import Writer, code_version, prepare_file, row_counts

TEMP_MARK = ".building-"
# Parsed articles waiting for the writer at most: workers parse faster than
# one process writes, and without a bound the backlog would hold the corpus.
IN_FLIGHT = 2000
# More changed files than this and a full build is as quick as patching.
MAX_CHANGED = 10_000


class BuildFailed(Exception):
    def __init__(self, errors):
        super().__init__(f"{len(errors)} invalid file(s)")
        self.errors = errors


def scan(seeds):
    """Every *.md below ``seeds`` as {relative path: (path, size, mtime_ns)},
    in an order that does not depend on the file system."""
    # os.scandir, not Path.rglob: this runs on every rebuild, over every file.
    found = {}
    folders = [(str(seeds), "")]
    while folders:
        folder, prefix = folders.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    folders.append((entry.path, prefix + entry.name + "/"))
                elif entry.name.endswith(".md") and entry.is_file():
                    stat = entry.stat()
                    found[prefix + entry.name] = (Path(entry.path), stat.st_size, stat.st_mtime_ns)
    return dict(sorted(found.items()))


def previous_sources(db_path):
    """{path: (size, mtime_ns, article_id)} of an earlier build by this same
    code, or None when there is none to build on."""
    if not db_path.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            version = conn.execute("select value from build_info where key = 'code_version'").fetchone()
            if not version or version[0] != code_version():
                return None
            return {p: (size, mtime, aid) for p, size, mtime, aid in conn.execute("select * from sources")}
        finally:
            conn.close()
    except sqlite3.Error:
        return None


def bounded(jobs, slots):
    """Yield jobs only while a slot is free; the consumer releases one per
    result. Pool.imap reads its input on a thread of its own, so this blocks
    that thread, not the writer."""
    for job in jobs:
        slots.acquire()
        yield job


def prepared(jobs, workers, show_progress):
    """(kind, payload) for each (path, relative path) job, in job order."""
    if len(jobs) < 200:
        yield from map(prepare_file, jobs)
        return
    slots = threading.Semaphore(IN_FLIGHT)
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        results = pool.imap(prepare_file, bounded(jobs, slots), chunksize=16)
        with click.progressbar(
            results, length=len(jobs), label="Reading articles", file=None if show_progress else open(os.devnull, "w")
        ) as bar:
            for result in bar:
                slots.release()
                yield result


def temp_path(db_path):
    return db_path.with_name(f".{db_path.name}{TEMP_MARK}{os.getpid()}")


def remove_stale_temp_files(db_path):
    """Delete what a killed build left beside the database: its temporary
    file and its index file (…building-PID-fts), unless that build runs."""
    for stale in db_path.parent.glob(f".{db_path.name}{TEMP_MARK}*"):
        pid = re.match(r"\d+", stale.name[len(f".{db_path.name}{TEMP_MARK}"):])
        if pid and int(pid[0]) != os.getpid() and _running(int(pid[0])):
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


def build(seeds, db_path, skip_invalid=False, workers=None, show_progress=False, full=False):
    """Build ``db_path`` from the articles under ``seeds``.

    Re-reads only added, changed and deleted files when ``db_path`` holds an
    earlier build by this code, unless ``full``. Returns a summary dict
    (articles, figures, tags, authors, warnings, skipped, read, seconds).
    Raises BuildFailed listing every invalid file unless ``skip_invalid``;
    the previous database is then left untouched.
    """
    start = time.perf_counter()
    seeds, db_path = Path(seeds), Path(db_path)
    if not seeds.is_dir():
        raise BuildFailed([f"{seeds}: not a folder of articles"])
    files = scan(seeds)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(db_path)

    before = None if full else previous_sources(db_path)
    if before is not None:
        changed = [p for p, (_, size, mtime) in files.items() if before.get(p, (None, None))[:2] != (size, mtime)]
        changed_set = set(changed)
        removed = [before[p][2] for p in before if p not in files or p in changed_set]
        if len(changed) > MAX_CHANGED:
            before = None
    if before is None:
        changed, changed_set, removed = list(files), set(files), []
    if before is not None and not changed and not removed:
        conn = sqlite3.connect(db_path)
        counts = row_counts(conn)
        conn.close()
        return {**counts, "warnings": [], "skipped": [], "read": 0, "seconds": time.perf_counter() - start}

    warnings, errors, skipped = [], [], []
    seen_ids = {aid: p for p, (_, _, aid) in (before or {}).items() if p not in changed_set and p in files}
    tmp = temp_path(db_path)
    writer = None
    try:
        if before is not None:
            shutil.copyfile(db_path, tmp)
        writer = Writer(str(tmp), fresh=before is None)
        writer.remove(removed)
        jobs = [(files[p][0], p) for p in changed]
        for kind, payload in prepared(jobs, workers or os.cpu_count() or 1, show_progress):
            if kind == "invalid":
                errors.append(payload)
                continue
            if kind == "skipped":
                skipped.append(payload)
                continue
            article = payload["article"]
            first = seen_ids.setdefault(article["id"], article["source_path"])
            if first != article["source_path"]:
                errors.append(f"{article['source_path']}: article id {article['id']} is already used by {first}")
                continue
            warnings.extend(payload["warnings"])
            _, size, mtime = files[article["source_path"]]
            writer.add(payload, (article["source_path"], size, mtime))
        if errors and not skip_invalid:
            raise BuildFailed(errors)
        counts = writer.finish()
        writer = None
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, db_path)
    finally:
        if writer is not None:
            writer.abort()
        tmp.unlink(missing_ok=True)
    return {
        **counts,
        "warnings": warnings,
        "skipped": skipped + errors,
        "read": len(changed),
        "seconds": time.perf_counter() - start,
    }


def summary_line(db_path, summary):
    return (
        f"{db_path}: {summary['articles']:,} articles, {summary['figures']:,} figures, "
        f"{summary['tags']:,} tags, {summary['authors']:,} authors, "
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
    args = parser.parse_args(argv)
    try:
        summary = build(args.seeds, args.db, args.skip_invalid, show_progress=sys.stderr.isatty(), full=args.full)
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


if __name__ == "__main__":
    sys.exit(main())
