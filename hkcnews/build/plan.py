"""What a build reads and what it replaces.

A build is scan → plan → write. ``scan`` lists the files; the captures that
changed since the previous build are looked at (their number and group);
``plan`` turns that into the groups of captures to read whole and the rows
of the previous build they replace. A group is every capture that shares a
title and date, so when one capture changes its whole group, old and new,
is decided again, and the result is what a full build would give.
"""

import ast
import hashlib
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from hkcnews.build.captures import group_key
from hkcnews.terms import TERMS_SCHEME

# More changed files than this and a full build is as quick as patching.
MAX_CHANGED = 10_000
# The modules whose code decides what the build writes, found from their
# imports: prepare (what a file becomes), writer (how it is stored), plan;
# with the shared modules they import (terms).
_BUILD_ROOTS = ("hkcnews.build.plan", "hkcnews.build.prepare", "hkcnews.build.writer")
_PACKAGE = Path(__file__).resolve().parent.parent


def _module_file(name):
    return _PACKAGE.joinpath(*name.split(".")[1:]).with_suffix(".py")


def build_modules():
    """Every module of this package that the build runs, by dotted name."""
    found, todo = set(), list(_BUILD_ROOTS)
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            tree = ast.parse(_module_file(name).read_text(encoding="utf-8"))
            todo += [
                n.module
                for n in ast.walk(tree)
                if isinstance(n, ast.ImportFrom)
                and n.module
                and n.module.startswith("hkcnews.")
                and _module_file(n.module).exists()
            ]
    return sorted(found)


def code_version():
    """A hash of the code that decides what a file becomes: a database built
    by other code is rebuilt in full, never patched."""
    digest = hashlib.sha1(TERMS_SCHEME.encode())
    for name in build_modules():
        digest.update(_module_file(name).read_bytes())
    return digest.hexdigest()[:16]


def scan(seeds):
    """Every *.md below ``seeds`` as {relative path: (path, size, mtime_ns)},
    in an order that does not depend on the file system. Paths are strings:
    they go to the workers, and a Path is slower to pickle."""
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
                    found[prefix + entry.name] = (entry.path, stat.st_size, stat.st_mtime_ns)
    return dict(sorted(found.items()))


class Previous(NamedTuple):
    """A capture of the previous build: its file's size and time, its
    number, and its article with that article's title and date, which every
    capture of the article shares (None for a failed capture)."""

    size: int
    mtime_ns: int
    id: int
    article_id: int | None
    title: str | None
    date: str | None

    @property
    def key(self):
        """Its group, or None for a failed capture (reconciled alone)."""
        return None if self.article_id is None else group_key(self.title, self.date)


def previous_captures(db_path):
    """{path: Previous} of an earlier build by this same code, or None when
    there is none to build on."""
    if not db_path.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            version = conn.execute("select value from build_info where key = 'code_version'").fetchone()
            if not version or version[0] != code_version():
                return None
            rows = conn.execute(
                """select captures.source_path, file_size, file_mtime_ns, captures.id, article_id, title, date
                from captures left join articles on articles.id = captures.article_id"""
            )
            return {path: Previous(*row) for path, *row in rows}
        finally:
            conn.close()
    except sqlite3.Error:
        return None


def changes(files, before):
    """Paths added or changed (size or time) since ``before``, and deleted;
    None when a full build is quicker."""
    changed = [
        p
        for p, (_, size, mtime) in files.items()
        if p not in before or (before[p].size, before[p].mtime_ns) != (size, mtime)
    ]
    deleted = [p for p in before if p not in files]
    return None if len(changed) > MAX_CHANGED else (changed, deleted)


@dataclass
class Plan:
    """The groups of captures to read, each a list of relative paths read in
    one job, and the previous build's rows they replace."""

    groups: list = field(default_factory=list)
    captures_removed: list = field(default_factory=list)
    articles_removed: list = field(default_factory=list)
    errors: list = field(default_factory=list)


def plan(scanned, before=None, deleted=()):
    """Plan a build from ``scanned``, {path: (number, group key)} of every
    file that changed (every file, for a full build), given the previous
    build's captures. A number used twice is an error naming both files,
    and the later file (in path order) is left out."""
    before = before or {}
    gone = set(scanned) | set(deleted)
    kept = {p: c for p, c in before.items() if p not in gone}
    result = Plan()
    owner, left_out = {}, set()
    numbers = {**{p: c.id for p, c in kept.items()}, **{p: number for p, (number, _) in scanned.items()}}
    for path, number in sorted(numbers.items()):
        first = owner.setdefault(number, path)
        if first != path:
            result.errors.append(f"{path}: article id {number} is already used by {first}")
            left_out.add(path)

    touched = {before[p].key for p in gone if p in before} | {key for _, key in scanned.values()}
    # A kept capture is read again when its group is touched; only those of
    # a touched date can be, so only their keys are worth computing.
    dates = {key[1] for key in touched if key is not None}
    keys = {p: key for p, (_, key) in scanned.items()}
    keys.update((p, c.key) for p, c in kept.items() if c.article_id is not None and (c.date or "") in dates)
    groups = {}
    for path, key in sorted(keys.items()):
        if path not in left_out and (path in scanned or key in touched):
            # A failed capture is reconciled alone: its group is its path.
            groups.setdefault(path if key is None else key, []).append(path)
    result.groups = sorted(groups.values())
    replaced = gone | left_out | {p for group in result.groups for p in group}
    old = [c for p, c in before.items() if p in replaced]
    result.captures_removed = sorted(c.id for c in old)
    result.articles_removed = sorted({c.article_id for c in old if c.article_id is not None})
    return result
