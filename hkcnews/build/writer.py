"""Writes prepared groups of captures into the database."""

import json

import sqlite_utils

from hkcnews.build.fts import (
    IndexProcess,
    article_fts_values,
    create_fts_tables,
    figure_fts_values,
    fts_insert,
)
from hkcnews.build.language import TEXT_TABLE, create_language_tables, write_ngram_tables
from hkcnews.build.plan import code_version
from hkcnews.build.tables import (
    ARTICLE_COLUMNS,
    AUTHOR_BOX_COLUMNS,
    CAPTURE_COLUMNS,
    FIGURE_COLUMNS,
    PAGE_SIZE,
    create_indexes,
    create_tables,
    row_counts,
    write_derived_tables,
)
from hkcnews.terms import TERMS_SCHEME, visible_text


class Writer:
    """Writes prepared groups (hkcnews.build.prepare) in batches, then the tables
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
        self.index = None
        if fresh:
            self.db.execute(f"pragma page_size = {PAGE_SIZE}")
            create_tables(self.db)
            create_language_tables(self.db)
            create_fts_tables(self.db.conn)
            self.index = IndexProcess(path)
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
        articles, article_fts, figures, figure_fts, article_tags, texts = [], [], [], [], [], []
        new_tags, boxes, captures = [], [], []
        for group in self.pending:
            for parsed in group["articles"]:
                article = dict(parsed["article"])
                tags = article["tags"]
                article["tags"] = json.dumps(tags, ensure_ascii=False)
                articles.append(article)
                article_fts.append((article["id"], *parsed["fts"]))
                texts.append({"article_id": article["id"], "folded": parsed["folded"]})
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
            self._insert(TEXT_TABLE, ("article_id", "folded"), texts)
            if self.index:
                self.index.send(("articles_fts", article_fts))
                self.index.send(("figures_fts", figure_fts))
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
                for table in ("figures", "article_tags", "author_boxes", TEXT_TABLE):
                    db.execute(f"delete from [{table}] where article_id = ?", [article_id])
            db.conn.executemany("delete from captures where id = ?", [(i,) for i in capture_ids])
            db.conn.executemany("delete from articles where id = ?", [(i,) for i in article_ids])

    def abort(self):
        """Stop the index process of a build that failed and remove its file."""
        if self.index:
            self.index.stop()
            self.index = None
        self.db.close()

    def finish(self):
        """Write the derived tables and indexes; returns the row counts."""
        self.flush()
        if self.index:
            # The index process merges its segments while this one indexes.
            self.index.send(None)
        db = self.db
        with db.conn:
            create_indexes(db)
            # Counted afresh from every article's text, on a rebuild too.
            ngram_info = write_ngram_tables(db)
            write_derived_tables(db, {"terms_scheme": TERMS_SCHEME, "code_version": code_version(), **ngram_info})
        if self.fresh:
            # Sampled statistics are enough for the planner to prefer the
            # covering indexes, and take a fraction of a full ANALYZE.
            db.execute("pragma analysis_limit = 1000")
            db.execute("analyze")
        if self.index:
            self.index.copy_into(db)
            self.index = None
        counts = row_counts(db.conn)
        db.close()
        return counts
