"""`make archive-db`, the first half of `make archive`: a shallow clone of
the backup (here a git repository on this machine standing in for GitHub),
brought up to date on the next run, and built."""

import shutil
import sqlite3
import subprocess

from .helpers import CORPUS, ROOT, SEEDS, write_articles


def git(folder, *args):
    return subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True, text=True).stdout.strip()


def backup_repository(tmp_path, files):
    """A stand-in for the public backup: its Markdown files under articles/."""
    repo = tmp_path / "backup"
    shutil.copytree(SEEDS, repo / "articles")
    write_articles(repo / "articles", files)
    git(tmp_path, "init", "--quiet", "--initial-branch=main", str(repo))
    commit(repo, "first")
    commit(repo, "second", allow_empty=True)
    return repo


def commit(repo, message, allow_empty=False):
    git(repo, "add", "-A")
    git(
        repo,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "--quiet",
        "-m",
        message,
        *(["--allow-empty"] if allow_empty else []),
    )


def make_archive_db(tmp_path, repo):
    return subprocess.run(
        [
            "make",
            "--no-print-directory",
            "archive-db",
            f"ARCHIVE_REPO=file://{repo}",
            f"ARCHIVE_DIR={tmp_path / 'clone'}",
            f"ARCHIVE_DB={tmp_path / 'full' / 'news.db'}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def article_ids(db):
    with sqlite3.connect(db) as conn:
        return sorted(i for (i,) in conn.execute("select id from articles"))


def test_make_archive_clones_shallow_and_builds(tmp_path):
    repo = backup_repository(tmp_path, {k: CORPUS[k] for k in ("a/50001.md", "a/50003.md")})
    result = make_archive_db(tmp_path, repo)
    assert result.returncode == 0, result.stderr
    assert f"{tmp_path / 'clone'}: 3 files at commit {git(repo, 'rev-parse', '--short', 'HEAD')}" in result.stdout
    assert git(tmp_path / "clone", "rev-parse", "--is-shallow-repository") == "true"
    assert git(tmp_path / "clone", "rev-list", "--count", "HEAD") == "1"
    assert article_ids(tmp_path / "full" / "news.db") == [39427, 50001, 50003]


def test_make_archive_again_updates_the_clone_and_reads_only_the_new_file(tmp_path):
    repo = backup_repository(tmp_path, {"a/50001.md": CORPUS["a/50001.md"]})
    assert make_archive_db(tmp_path, repo).returncode == 0
    write_articles(repo / "articles", {"a/50004.md": CORPUS["a/50004.md"]})
    commit(repo, "one more")
    result = make_archive_db(tmp_path, repo)
    assert result.returncode == 0, result.stderr
    assert f"Updating {tmp_path / 'clone'}" in result.stdout
    assert "(1 files read)" in result.stdout
    assert article_ids(tmp_path / "full" / "news.db") == [39427, 50001, 50004]


def test_make_archive_of_a_repository_without_articles_says_so(tmp_path):
    repo = tmp_path / "other"
    repo.mkdir()
    (repo / "README.md").write_text("not the backup\n")
    git(tmp_path, "init", "--quiet", str(repo))
    commit(repo, "first")
    result = make_archive_db(tmp_path, repo)
    assert result.returncode != 0
    assert f"{tmp_path / 'clone'}/articles: no articles; is file://{repo} the backup?" in result.stderr
    assert not (tmp_path / "full" / "news.db").exists()
