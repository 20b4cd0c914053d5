"""The build: a folder of captures → news.db, written beside it and renamed
over it only when complete.

Every file is a web-archive capture; captures of one article are reconciled
into one row of articles (captures.py), and every file has its row in
captures. The database is written to a temporary file beside PATH and
renamed over it only when the build succeeded, so a failed or interrupted
build leaves the previous database exactly as it was. When PATH was built
before by the same code, only the groups of captures that changed are read
again. The command line is cli.py (``hkcnews-build``, ``python build_db.py``).
"""

import multiprocessing
import os
import re
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import click

from hkcnews.build.plan import changes, plan, previous_captures, scan
from hkcnews.build.prepare import prepare_group, scan_capture
from hkcnews.build.tables import row_counts
from hkcnews.build.writer import Writer

TEMP_MARK = ".building-"
# Prepared groups waiting for the writer at most: workers parse faster than
# one process writes, and without a bound the backlog would hold the corpus.
IN_FLIGHT = 2000


class BuildFailed(Exception):
    def __init__(self, errors):
        super().__init__(f"{len(errors)} invalid file(s)")
        self.errors = errors


def bounded(jobs, slots):
    """Yield jobs only while a slot is free; the consumer releases one per
    result. Pool.imap reads its input on a thread of its own, so this blocks
    that thread, not the writer."""
    for job in jobs:
        slots.acquire()
        yield job


def in_workers(function, jobs, workers, label, show_progress, chunksize, bound=False):
    """function(job) for each job, in job order, in worker processes; with
    ``bound``, at most IN_FLIGHT results wait for the consumer (for results
    that are large: the semaphore costs a thread switch per job)."""
    if len(jobs) < 200:
        yield from map(function, jobs)
        return
    slots = threading.Semaphore(IN_FLIGHT) if bound else None
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        results = pool.imap(function, bounded(jobs, slots) if bound else jobs, chunksize=chunksize)
        with click.progressbar(
            results, length=len(jobs), label=label, file=None if show_progress else open(os.devnull, "w")
        ) as bar:
            for result in bar:
                if bound:
                    slots.release()
                yield result


def look_at(files, paths, workers, show_progress=False):
    """The build's first pass: each file's number and group. Returns
    ({path: (number, group key)}, invalid messages, skipped messages)."""
    scanned, errors, skipped = {}, [], []
    jobs = [(files[p][0], p) for p in paths]
    scans = in_workers(scan_capture, jobs, workers, "Looking at captures", show_progress, chunksize=256)
    for (_, path), (kind, payload) in zip(jobs, scans, strict=True):
        if kind == "capture":
            scanned[path] = payload
        else:
            (errors if kind == "invalid" else skipped).append(payload)
    return scanned, errors, skipped


def temp_path(db_path):
    return db_path.with_name(f".{db_path.name}{TEMP_MARK}{os.getpid()}")


def remove_stale_temp_files(db_path):
    """Delete what a killed build left beside the database: its temporary
    file and its index file (…building-PID-fts), unless that build runs."""
    for stale in db_path.parent.glob(f".{db_path.name}{TEMP_MARK}*"):
        pid = re.match(r"\d+", stale.name[len(f".{db_path.name}{TEMP_MARK}") :])
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
    """Build ``db_path`` from the captures under ``seeds``.

    Re-reads only the groups of captures that changed when ``db_path``
    holds an earlier build by this code, unless ``full``. Returns a summary
    dict (captures, articles, repeats, failed, figures, tags, authors, warnings,
    skipped, read, seconds). Raises BuildFailed listing every invalid file
    unless ``skip_invalid``; the previous database is then left untouched.
    """
    start = time.perf_counter()
    seeds, db_path = Path(seeds), Path(db_path)
    if not seeds.is_dir():
        raise BuildFailed([f"{seeds}: not a folder of articles"])
    files = scan(seeds)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(db_path)
    workers = workers or os.cpu_count() or 1

    before = None if full else previous_captures(db_path)
    diff = changes(files, before) if before is not None else None
    if diff is None:
        before, changed, deleted = None, list(files), []
    else:
        changed, deleted = diff
    if before is not None and not changed and not deleted:
        conn = sqlite3.connect(db_path)
        counts = row_counts(conn)
        conn.close()
        return {**counts, "warnings": [], "skipped": [], "read": 0, "seconds": time.perf_counter() - start}

    scanned, errors, skipped = look_at(files, changed, workers, show_progress)
    todo = plan(scanned, before, deleted)
    errors += todo.errors
    if errors and not skip_invalid:
        raise BuildFailed(errors)

    warnings = []
    tmp = temp_path(db_path)
    writer = None
    try:
        if before is not None:
            shutil.copyfile(db_path, tmp)
        writer = Writer(str(tmp), files, fresh=before is None)
        writer.remove(todo.articles_removed, todo.captures_removed)
        jobs = [[(files[p][0], p) for p in group] for group in todo.groups]
        reading = in_workers(prepare_group, jobs, workers, "Reading articles", show_progress, chunksize=16, bound=True)
        for group in reading:
            warnings += group["warnings"]
            errors += group["invalid"]
            skipped += group["skipped"]
            writer.add(group)
        if errors and not skip_invalid:
            raise BuildFailed(errors)
        if show_progress:
            # The last step has no progress bar of its own: say what the wait is for.
            click.echo("Writing the indexes and finishing the search index…", err=True)
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
        "read": len(set(changed) | {p for group in todo.groups for p in group}),
        "seconds": time.perf_counter() - start,
    }
