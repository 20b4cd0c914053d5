"""A build killed at any moment, or run out of disk, leaves the previous
database exactly as it was and nothing behind once the next build ran."""

import hashlib
import json
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from build_db import build

from .helpers import ROOT, SEEDS, article_md, write_articles

WORDS = ["香港", "立法會", "選舉", "疫情", "政府", "記者", "法庭", "市民", "天氣", "經濟", "Blinken", "COVID-19"]


def many_articles(count, seed=7):
    rng = random.Random(seed)
    return {
        f"{n // 1000}/article_{n}.md": article_md(
            n,
            "".join(rng.choices(WORDS, k=4)),
            "。".join("".join(rng.choices(WORDS, k=12)) for _ in range(40)),
            tags=rng.sample(WORDS, 2),
            date=f"20{rng.randint(17, 21)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
        )
        for n in range(70000, 70000 + count)
    }


@pytest.fixture(scope="module")
def big_seeds(tmp_path_factory):
    folder = tmp_path_factory.mktemp("big") / "seeds"
    shutil.copytree(SEEDS, folder)
    return write_articles(folder, many_articles(1500))


def build_command(seeds, db, *extra):
    return [sys.executable, str(ROOT / "build_db.py"), "--seeds", str(seeds), "--db", str(db), *extra]


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def leftovers(folder):
    return sorted(p.name for p in Path(folder).iterdir() if ".building-" in p.name)


def builders_running(db):
    """Build processes (the build, its workers, its index process) still alive."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(db).encode() in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            pass
    return found


def test_killed_build_leaves_the_previous_database(tmp_path, big_seeds):
    db = tmp_path / "news.db"
    build(SEEDS, db)
    old = tmp_path / "old.db.copy"
    shutil.copyfile(db, old)
    before = digest(db)
    rng = random.Random()
    interrupted = []
    for mode in ([], ["--full"], [], ["--full"]):
        # How long this very build takes, on a copy of the same database.
        timing = tmp_path / "timing.db"
        shutil.copyfile(old, timing)
        start = time.monotonic()
        subprocess.run(build_command(big_seeds, timing, *mode), check=True, capture_output=True)
        moment = rng.uniform(0.05, 0.9) * (time.monotonic() - start)
        builder = subprocess.Popen(
            build_command(big_seeds, db, *mode), stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL
        )
        time.sleep(moment)
        builder.send_signal(signal.SIGKILL)
        if builder.wait() == 0:
            # It finished first: a complete new database, as it should be.
            shutil.copyfile(old, db)
            continue
        interrupted.append(moment)
        assert digest(db) == before, f"killed after {moment:.2f} s ({mode})"
    assert len(interrupted) >= 2, "the builds kept finishing before the kill"
    deadline = time.monotonic() + 15
    while builders_running(db) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert builders_running(db) == []
    # The next build completes and clears what the killed ones left.
    result = subprocess.run(build_command(big_seeds, db), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert leftovers(tmp_path) == []
    with sqlite3.connect(db) as conn:
        assert conn.execute("select count(*) from articles").fetchone() == (1501,)
        assert conn.execute("pragma integrity_check").fetchone() == ("ok",)


# The build's side of the index process's queue, killed halfway through a
# batch: a header promising a megabyte, and ten bytes of it.
HALF_A_BATCH = r"""
import multiprocessing, os, struct, sys
sys.path.insert(0, sys.argv[1])
from hkcnews.build.fts import fts_writer
context = multiprocessing.get_context("fork")
queue = context.Queue()
context.Process(target=fts_writer, args=(sys.argv[2], queue, os.getpid())).start()
os.write(queue._writer.fileno(), struct.pack("!i", 1_000_000) + b"x" * 10)
os._exit(9)
"""


def test_index_process_ends_with_a_build_killed_halfway_through_a_batch(tmp_path):
    """Found by the test above in CI: the index process waited forever for
    the rest of the batch."""
    index = tmp_path / "news.db.building-1-fts"
    result = subprocess.run([sys.executable, "-c", HALF_A_BATCH, str(ROOT), str(index)])
    assert result.returncode == 9
    deadline = time.monotonic() + 15
    while builders_running(index) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert builders_running(index) == []


# Runs inside a mount namespace of its own, where a tiny tmpfs stands in for
# a full disk: unshare gives a process its own mounts without touching the
# machine's, and without needing root outside it.
FULL_DISK = r"""
import json, subprocess, sys, hashlib, os
folder, seeds, big_seeds, *command = sys.argv[1:]
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", folder], check=True)
db = os.path.join(folder, "news.db")
subprocess.run(command + ["--seeds", seeds, "--db", db], check=True, capture_output=True)
before = hashlib.sha256(open(db, "rb").read()).hexdigest()
runs = []
for extra in ([], ["--full"]):
    r = subprocess.run(command + ["--seeds", big_seeds, "--db", db, *extra], capture_output=True, text=True, timeout=120)
    runs.append({"status": r.returncode, "stderr": r.stderr[-2000:], "left": sorted(os.listdir(folder))})
after = hashlib.sha256(open(db, "rb").read()).hexdigest()
print(json.dumps({"same": before == after, "runs": runs}))
"""


def test_full_disk_leaves_the_previous_database(tmp_path, big_seeds):
    if not shutil.which("unshare"):
        pytest.fail("needs unshare (util-linux) to give the build a small disk of its own")
    disk = tmp_path / "disk"
    disk.mkdir()
    command = [sys.executable, str(ROOT / "build_db.py")]
    result = subprocess.run(
        [
            "unshare",
            "--mount",
            "--map-root-user",
            sys.executable,
            "-c",
            FULL_DISK,
            str(disk),
            str(SEEDS),
            str(big_seeds),
            *command,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["same"]
    for run in report["runs"]:
        assert run["status"] == 1
        assert f"error: writing {disk}/news.db failed: " in run["stderr"]
        assert "database or disk is full" in run["stderr"] or "No space left on device" in run["stderr"]
        assert "Traceback" not in run["stderr"]
        assert run["left"] == ["news.db"]
