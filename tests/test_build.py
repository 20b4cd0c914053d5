"""build_db.py as a command: exit status, messages, and a database that is
either the new one, complete, or the old one, untouched."""

import sqlite3
import subprocess
import sys

import pytest

from build_db import build

from .helpers import ROOT, article_md, assert_same_as_a_full_build, edit, seeds_with, write_articles


def run_build(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, str(ROOT / "build_db.py"), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


def dump(db):
    conn = sqlite3.connect(db)
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "select name from sqlite_master where type = 'table' and name not like '%fts%' order by name"
            )
        ]
        return {t: conn.execute(f"select * from [{t}] order by 1, 2").fetchall() for t in tables}
    finally:
        conn.close()


@pytest.fixture
def old_db(tmp_path):
    db = tmp_path / "news.db"
    assert run_build("--seeds", ROOT / "seeds", "--db", db).returncode == 0
    return db


def test_summary_line_counts_what_was_built(tmp_path):
    result = run_build("--seeds", ROOT / "seeds", "--db", tmp_path / "news.db")
    assert result.returncode == 0
    line = result.stdout.strip()
    assert line.startswith(
        f"{tmp_path / 'news.db'}: 1 files: 1 articles (0 repeats, 0 failed captures), "
        "3 figures, 4 tags, 1 authors, 0 warnings, 0 skipped (1 files read) in "
    )
    assert line.endswith(" s")


def test_invalid_files_fail_the_build_list_every_one_and_keep_the_old_database(tmp_path, old_db):
    before = old_db.read_bytes()
    folder = seeds_with(
        tmp_path,
        {
            "bad/date.md": '---\ntitle: "壞日期"\ndate: "2021-13-45"\n---\n正文。\n',
            "bad/yaml.md": '---\ntitle: "未完\n---\n正文。\n',
            "bad/bytes.md": "",
        },
    )
    (folder / "bad/bytes.md").write_bytes(b'---\ntitle: "\xe9"\n---\n')
    result = run_build("--seeds", folder, "--db", old_db)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        "error: bad/bytes.md: not UTF-8 (byte 0xe9 at offset 12)",
        "error: bad/date.md: date '2021-13-45' is not a date",
        errors[2],
    ]
    assert errors[2].startswith("error: bad/yaml.md: front matter is not valid YAML")
    assert f"build failed: 3 invalid file(s); {old_db} was not changed" in result.stderr
    assert "Traceback" not in result.stderr
    assert old_db.read_bytes() == before
    assert sorted(p.name for p in old_db.parent.iterdir()) == ["news.db", "seeds"]


def test_skip_invalid_builds_the_rest_and_lists_what_it_skipped(tmp_path):
    folder = seeds_with(
        tmp_path, {"bad.md": '---\ndate: "yesterday"\n---\n', "good.md": article_md(80001, "好", "正文。")}
    )
    result = run_build("--seeds", folder, "--db", tmp_path / "news.db", "--skip-invalid")
    assert result.returncode == 0
    assert "skipped: bad.md: date 'yesterday' is not a date" in result.stderr.splitlines()
    assert ", 1 skipped (3 files read) in " in result.stdout
    assert [r[0] for r in dump(tmp_path / "news.db")["articles"]] == [39427, 80001]


def test_duplicate_article_ids_name_both_files(tmp_path):
    folder = write_articles(tmp_path / "in", {"a/1.md": article_md(80002, "甲"), "b/1.md": article_md(80002, "乙")})
    result = run_build("--seeds", folder, "--db", tmp_path / "news.db")
    assert result.returncode == 1
    assert "error: b/1.md: article id 80002 is already used by a/1.md" in result.stderr.splitlines()


def test_markdown_without_front_matter_is_skipped_with_a_warning(tmp_path):
    folder = seeds_with(tmp_path, {"README.md": "# About these files\n"})
    result = run_build("--seeds", folder, "--db", tmp_path / "news.db")
    assert result.returncode == 0
    assert "skipped: README.md: no front matter, not an article" in result.stderr.splitlines()
    assert len(dump(tmp_path / "news.db")["articles"]) == 1


def test_missing_seeds_folder_is_a_clear_error(tmp_path):
    result = run_build("--seeds", tmp_path / "nowhere", "--db", tmp_path / "news.db")
    assert result.returncode == 1
    assert f"error: {tmp_path / 'nowhere'}: not a folder of articles" in result.stderr


def test_two_builds_of_the_same_input_give_the_same_rows(tmp_path):
    from .helpers import CORPUS

    folder = seeds_with(tmp_path, CORPUS)
    build(folder, tmp_path / "one.db", workers=1)
    build(folder, tmp_path / "two.db", workers=2)
    assert dump(tmp_path / "one.db") == dump(tmp_path / "two.db")


@pytest.mark.parametrize("workers", ["0", "-1"])
def test_workers_must_be_one_or_more(tmp_path, workers):
    result = run_build("--seeds", ROOT / "seeds", "--db", tmp_path / "news.db", "--workers", workers)
    assert result.returncode == 2
    assert f"--workers {workers}: must be 1 or more" in result.stderr
    assert not (tmp_path / "news.db").exists()


def test_one_worker_builds_what_the_default_builds(tmp_path):
    from .helpers import CORPUS

    folder = seeds_with(tmp_path, CORPUS)
    assert run_build("--seeds", folder, "--db", tmp_path / "one.db", "--workers", "1").returncode == 0
    assert run_build("--seeds", folder, "--db", tmp_path / "default.db").returncode == 0
    assert dump(tmp_path / "one.db") == dump(tmp_path / "default.db")


def test_rebuild_removes_what_a_killed_build_left_behind(tmp_path, old_db):
    stale = tmp_path / ".news.db.building-999999999"
    stale.write_bytes(b"half a database")
    build(ROOT / "seeds", old_db)
    assert not stale.exists()


def test_default_paths_are_seeds_and_news_db(tmp_path):
    write_articles(tmp_path / "seeds", {"x.md": article_md(80003, "預設", "正文。")})
    result = run_build(cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("news.db: 1 files: 1 articles")
    assert dump(tmp_path / "news.db")["articles"][0][:2] == (80003, "預設")


def search(db, query):
    from hkcnews.terms import fts_query

    conn = sqlite3.connect(db)
    try:
        return sorted(
            r[0] for r in conn.execute("select rowid from articles_fts where articles_fts match ?", [fts_query(query)])
        )
    finally:
        conn.close()


@pytest.fixture
def corpus_folder(tmp_path):
    from .helpers import CORPUS

    return seeds_with(tmp_path, CORPUS)


def test_rebuild_reads_only_the_changed_file_and_updates_the_index(tmp_path, corpus_folder):
    db = tmp_path / "news.db"
    build(corpus_folder, db)
    assert search(db, "維港") == [50005]
    edit(corpus_folder / "b/50005.md", "維港上空的煙花", "海港上空的煙花")
    summary = build(corpus_folder, db)
    assert summary["read"] == 1
    assert search(db, "維港") == []
    assert search(db, "海港") == [50005]
    assert_same_as_a_full_build(db, corpus_folder, tmp_path)


def test_rebuild_picks_up_added_and_deleted_files(tmp_path, corpus_folder):
    db = tmp_path / "news.db"
    build(corpus_folder, db)
    (corpus_folder / "a/50001.md").unlink()
    write_articles(corpus_folder, {"c/50006.md": article_md(50006, "新文章", "選民今日投票。", tags=["新標籤"])})
    summary = build(corpus_folder, db)
    assert summary["read"] == 1
    assert search(db, "投票") == [50006]
    assert_same_as_a_full_build(db, corpus_folder, tmp_path)


def test_rebuild_with_nothing_changed_leaves_the_file_alone(tmp_path, corpus_folder):
    db = tmp_path / "news.db"
    build(corpus_folder, db)
    before = db.read_bytes()
    assert build(corpus_folder, db)["read"] == 0
    assert db.read_bytes() == before


def test_full_flag_reads_every_file(tmp_path, corpus_folder):
    db = tmp_path / "news.db"
    build(corpus_folder, db)
    result = run_build("--seeds", corpus_folder, "--db", db, "--full")
    assert "(6 files read)" in result.stdout


def test_failed_rebuild_keeps_the_previous_database(tmp_path, corpus_folder):
    db = tmp_path / "news.db"
    build(corpus_folder, db)
    before = db.read_bytes()
    edit(corpus_folder / "a/50001.md", 'date: "2020-01-11"', 'date: "2020-02-30"')
    result = run_build("--seeds", corpus_folder, "--db", db)
    assert result.returncode == 1
    assert "error: a/50001.md: date '2020-02-30' is not a date" in result.stderr.splitlines()
    assert db.read_bytes() == before


def test_code_version_covers_every_module_the_build_imports():
    from hkcnews.build.plan import build_modules

    imported = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, build_db; print(' '.join(sorted(m for m in sys.modules if m.startswith('hkcnews.'))))",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout.split()
    # What a build runs but what it writes does not depend on: the pool and
    # the rename (hkcnews.build itself) and the command line.
    assert build_modules() == [m for m in imported if m not in ("hkcnews.build", "hkcnews.build.cli")]
