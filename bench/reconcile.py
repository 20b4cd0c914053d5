"""How well the build reconciles captures, and what it costs, on a corpus
shaped like the backup.

    python bench/reconcile.py --files 100000                  # this checkout
    python bench/reconcile.py --files 100000 --before main~1  # and an earlier one, same files
    python bench/reconcile.py --files 100000 --before main~1 --runs 3   # medians of 3, taken in turn

Writes N files with ../shared/corpus/make_corpus.py (--truth says what each
file is: an article, a repeat of which article, or which failed capture),
builds them with build_db.py --full, and prints the build's summary line,
its time and size, the time it spent looking at every capture to group it,
and how many files the captures table classifies as the truth says (status,
and the article of a repeat). With --before, the same files are built by
the other revision (a git worktree) for time and size, each build in turn
with this checkout's so that both see the same machine. Run by hand; the
test suite asserts the agreement on 20,000 files.
"""

import argparse
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The shared folder: where HKCNEWS_SHARED says, beside this checkout, or
# where this workplace keeps it (for a clone made elsewhere, as CI's is).
SHARED = next(
    (
        p
        for p in map(Path, filter(None, [os.environ.get("HKCNEWS_SHARED"), ROOT.parent / "shared", "/work/shared"]))
        if p.is_dir()
    ),
    ROOT.parent / "shared",
)
MAKE_CORPUS = SHARED / "corpus" / "make_corpus.py"


def agreement(db, truth):
    """(files that agree with the truth, [(number, truth, capture row)] of
    those that do not). A file agrees when its status, the reason of a
    failed capture and the article of a repeat are what the truth says; the
    truth's article is the first capture of each article, whose number the
    article takes."""
    conn = sqlite3.connect(db)
    agree, disagree = 0, []
    for path, status, reason, article_id in conn.execute(
        "select source_path, status, reason, article_id from captures"
    ):
        number = re.search(r"(\d+)\.md$", path)[1]
        expected = truth[number]
        if expected == "article":
            ok = (status, article_id) == ("article", int(number))
        elif isinstance(expected, int):
            ok = (status, article_id) == ("repeat", expected)
        else:
            ok = (status, reason) == ("failed", expected)
        agree += ok
        if not ok:
            disagree.append((number, expected, (status, reason, article_id)))
    conn.close()
    return agree, disagree


def corpus(files, workdir, seed):
    folder, truth = workdir / f"corpus-{files}-{seed}", workdir / f"truth-{files}-{seed}.json"
    if not truth.exists():
        subprocess.run(
            [sys.executable, str(MAKE_CORPUS), str(files), str(folder), "--seed", str(seed), "--truth", str(truth)],
            check=True,
        )
    return folder, json.loads(truth.read_text())


def timed_build(checkout, seeds, db):
    db.unlink(missing_ok=True)
    subprocess.run(["sync"])
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, str(checkout / "build_db.py"), "--seeds", str(seeds), "--db", str(db), "--full"],
        cwd=checkout,
        check=True,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - start, db.stat().st_size / 1e6, out.stdout.strip()


def looking_time(seeds):
    """Seconds the build spends looking at every capture to find its group,
    the part of a build that reconciling adds (build_db.py's first pass)."""
    sys.path.insert(0, str(ROOT))
    from build_db import look_at
    from hkcnews.build.plan import plan, scan

    start = time.perf_counter()
    files = scan(seeds)
    plan(look_at(files, list(files), os.cpu_count())[0])
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--before", help="a git revision to build the same files with, for comparison")
    parser.add_argument("--runs", type=int, default=1, help="builds of each, reported as the median")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/hkcnews-reconcile"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    seeds, truth = corpus(args.files, args.workdir, args.seed)
    checkouts = {"this checkout": (ROOT, args.workdir / "news.db")}
    if args.before:
        checkout = args.workdir / "before"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(checkout)], capture_output=True)
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(checkout), args.before],
            check=True,
            capture_output=True,
        )
        checkouts[args.before] = (checkout, args.workdir / "before.db")
    try:
        results = {name: [] for name in checkouts}
        for _ in range(args.runs):
            for name, (checkout, db) in checkouts.items():
                results[name].append(timed_build(checkout, seeds, db))
    finally:
        if args.before:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(checkouts[args.before][0])], check=True
            )
    for name, runs in results.items():
        times = [seconds for seconds, _, _ in runs]
        print(f"{name}: {runs[-1][2]}")
        print(
            f"{name}: build {statistics.median(times):.1f} s median of {len(times)} "
            f"({', '.join(f'{t:.1f}' for t in times)}), database {runs[-1][1]:,.0f} MB"
        )
    print(f"looking at every capture for its group: {looking_time(seeds):.1f} s")
    agree, disagree = agreement(args.workdir / "news.db", truth)
    print(f"agreement with the truth: {agree:,} of {len(truth):,} files ({agree / len(truth):.3%})")
    for example in disagree[:20]:
        print("  disagrees:", example)


if __name__ == "__main__":
    main()
