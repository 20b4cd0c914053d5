"""Writes prepared groups of captures into the database."""

import json
import multiprocessing
import os
from queue import Full

import sqlite_utils

from .fts import (
    FTS_SHADOW_TABLES,
    FTS_TABLES,
    article_fts_values,
    create_fts_tables,
    figure_fts_values,
    fts_insert,
    fts_writer,
)
from .plan import code_version
from .tables import (
    ARTICLE_COLUMNS,
    AUTHOR_BOX_COLUMNS,
    CAPTURE_COLUMNS,
    FIGURE_COLUMNS,
    PAGE_SIZE,
    create_indexes,
    create_tables,
    row_counts,
)
from .terms import TERMS_SCHEME, visible_text


class Writer:
    """Writes prepared groups (hkcnews.prepare) in batches, then the tables
    derived from all articles (tag counts, authors) once every one is in.

    ``files`` is the build's scan, {relative path: (path, size, mtime_ns)},
    for the captures' file columns. ``fresh=False`` opens a copy of an
    earlier build instead, to remove and add single groups.
    """

    def __init__(self, path, files, fresh=True, batch_size=500):
        self.db = sqlite_utils.Database(path)
        # The file is renamed into place only when complete, so a crash
        # loses nothing a journal would have saved.
        self.db.execute("pragma journal_mode = off")
        self.db.execute("pragma synchronous = off")
        self.files = files
        self.fresh = fresh
        self.fts_process = None
        if fresh:
            self.db.execute(f"pragma page_size = {PAGE_SIZE}")
            create_tables(self.db)
            create_fts_tables(self.db.conn)
            self.fts_path = f"{path}-fts"
            context = multiprocessing.get_context("fork")
            self.fts_queue = context.Queue(maxsize=8)
            self.fts_process = context.Process(
                target=fts_writer, args=(self.fts_path, self.fts_queue, os.getpid()), daemon=True
            )
            self.fts_process.start()
        self.batch_size = batch_size
        self.pending = []
        self.tag_ids = {name: tag_id for tag_id, name in self.db.execute("select id, name from tags")}
        self.next_tag_id = max(self.tag_ids.values(), default=0) + 1
        self.figure_id = self.db.execute("select coalesce(max(id), 0) from figures").fetchone()[0]

    def add(self, group):
        """Queue one prepared group: its articles and its captures."""
        self.pending.append(group)
        if len(self.pending) >= self.batch_size:
            self.flush()

    def flush(self):
        articles, article_fts, figures, figure_fts, article_tags = [], [], [], [], []
        new_tags, boxes, captures = [], [], []
        for group in self.pending:
            for parsed in group["articles"]:
                article = dict(parsed["article"])
                tags = article["tags"]
                article["tags"] = json.dumps(tags, ensure_ascii=False)
                articles.append(article)
                article_fts.append((article["id"], *parsed["fts"]))
                for name in tags:
                    if name not in self.tag_ids:
                        self.tag_ids[name] = self.next_tag_id
                        self.next_tag_id += 1
                        new_tags.append({"id": self.tag_ids[name], "name": name})
                    article_tags.append({"article_id": article["id"], "tag_id": self.tag_ids[name]})
                for figure in parsed["figures"]:
                    self.figure_id += 1
                    fts = figure.pop("fts")
                    figures.append({"id": self.figure_id, "article_id": article["id"], **figure})
                    figure_fts.append((self.figure_id, *fts))
                if parsed["author"]:
                    boxes.append({"article_id": article["id"], **parsed["author"]})
            for capture in group["captures"]:
                _, size, mtime_ns = self.files[capture["source_path"]]
                captures.append({**capture, "file_size": size, "file_mtime_ns": mtime_ns})
        with self.db.conn:
            # Plain executemany rather than insert_all: the rows already have
            # the tables' columns, and sqlite-utils' per-value checks cost
            # the writer a tenth of a full build.
            self._insert("articles", ARTICLE_COLUMNS, articles)
            self._insert("figures", FIGURE_COLUMNS, figures)
            self._insert("tags", ("id", "name"), new_tags)
            self._insert("article_tags", ("article_id", "tag_id"), article_tags)
            self._insert("author_boxes", AUTHOR_BOX_COLUMNS, boxes)
            self._insert("captures", CAPTURE_COLUMNS, captures)
            if self.fts_process:
                self._to_fts_process(("articles_fts", article_fts))
                self._to_fts_process(("figures_fts", figure_fts))
            else:
                self.db.conn.executemany(fts_insert("articles_fts"), article_fts)
                self.db.conn.executemany(fts_insert("figures_fts"), figure_fts)
        self.pending = []

    def _insert(self, table, columns, rows):
        if rows:
            self.db.conn.executemany(
                f"insert into [{table}] ({', '.join(columns)}) values ({', '.join('?' * len(columns))})",
                [tuple(row[c] for c in columns) for row in rows],
            )

    def remove(self, article_ids, capture_ids):
        """Take articles out of every table and index, and captures out of
        the captures table, as if never added."""
        db = self.db
        with db.conn:
            for article_id in article_ids:
                row = db.execute("select title, body from articles where id = ?", [article_id]).fetchone()
                if row is None:
                    continue
                title, body = row
                figures = [
                    dict(zip(("id", "caption", "credit", "alt"), f, strict=True))
                    for f in db.execute(
                        "select id, caption, credit, alt from figures where article_id = ? order by position",
                        [article_id],
                    )
                ]
                # External-content FTS5 forgets a row only when given the
                # exact terms it indexed, which are recomputed from the row.
                db.execute(
                    fts_insert("articles_fts", delete=True),
                    [article_id, *article_fts_values(title, visible_text(body or ""), figures)],
                )
                for figure in figures:
                    db.execute(fts_insert("figures_fts", delete=True), [figure["id"], *figure_fts_values(figure)])
                for table in ("figures", "article_tags", "author_boxes"):
                    db.execute(f"delete from [{table}] where article_id = ?", [article_id])
            db.conn.executemany("delete from captures where id = ?", [(i,) for i in capture_ids])
            db.conn.executemany("delete from articles where id = ?", [(i,) for i in article_ids])

    def _to_fts_process(self, batch):
        # The queue is bounded: if the index process died (a full disk),
        # a plain put() would wait for it forever.
        while True:
            try:
                self.fts_queue.put(batch, timeout=1)
                return
            except Full:
                if not self.fts_process.is_alive():
                    raise self._fts_process_failed() from None

    def _fts_process_failed(self):
        return RuntimeError(f"the full-text index process failed (exit status {self.fts_process.exitcode})")

    def copy_fts_index(self):
        """Wait for the index process and copy its tables in. FTS5 keeps an
        index in ordinary shadow tables, so a copy of their rows is the index."""
        self.fts_process.join()
        if self.fts_process.exitcode != 0:
            raise self._fts_process_failed()
        self.fts_process = None
        db = self.db
        db.execute("attach database ? as side", [self.fts_path])
        with db.conn:
            for fts in FTS_TABLES:
                for shadow in FTS_SHADOW_TABLES:
                    db.execute(f"delete from main.[{fts}_{shadow}]")
                    db.execute(f"insert into main.[{fts}_{shadow}] select * from side.[{fts}_{shadow}]")
        db.execute("detach database side")
        os.unlink(self.fts_path)

    def abort(self):
        """Stop the index process of a build that failed and remove its file."""
        if self.fts_process:
            self.fts_process.kill()
            self.fts_process.join()
            self.fts_process = None
            # Batches nobody will read: without this, exit waits for the
            # queue's feeder thread to push them into a pipe no one empties.
            self.fts_queue.cancel_join_thread()
        if self.fresh and os.path.exists(self.fts_path):
            os.unlink(self.fts_path)
        self.db.close()

    def finish(self):
        """Write the derived tables and indexes; returns the row counts."""
        self.flush()
        if self.fts_process:
            # The index process merges its segments while this one indexes.
            self._to_fts_process(None)
        db = self.db
        with db.conn:
            create_indexes(db)
            db.execute("update tags set article_count = (select count(*) from article_tags where tag_id = tags.id)")
            db.execute("delete from tags where article_count = 0")
            db.execute("delete from authors")
            # The newest author box of each writer, then every other byline.
            db.execute(
                """insert into authors (name, role, bio, avatar_url)
                select name, role, bio, avatar_url from (
                    select author_boxes.*, row_number() over (
                        partition by author_boxes.name
                        order by coalesce(articles.date, '') desc, articles.source_path desc
                    ) as newest
                    from author_boxes join articles on articles.id = author_boxes.article_id
                ) where newest = 1"""
            )
            db.execute(
                "insert or ignore into authors (name) select distinct author from articles where author is not null"
            )
            db.execute("update authors set article_count = (select count(*) from articles where author = authors.name)")
            db["build_info"].insert_all(
                [{"key": "terms_scheme", "value": TERMS_SCHEME}, {"key": "code_version", "value": code_version()}],
                replace=True,
            )
        if self.fresh:
            # Sampled statistics are enough for the planner to prefer the
            # covering indexes, and take a fraction of a full ANALYZE.
            db.execute("pragma analysis_limit = 1000")
            db.execute("analyze")
        if self.fts_process:
            self.copy_fts_index()
        counts = row_counts(db.conn)
        db.close()
        return counts
