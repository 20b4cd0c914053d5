"""The database the build writes: tables, indexes and full-text rows."""
import hashlib
import json
import multiprocessing
import os
import sqlite3
import sys
from queue import Empty, Full
from pathlib import Path

import sqlite_utils
from sqlite_utils.db import DescIndex

from .articles import InvalidArticle, NotAnArticle, parse_article
from .terms import TERMS_SCHEME, index_chars, index_terms, visible_text

ARTICLE_COLUMNS = {
    "id": int,
    "title": str,
    "date": str,
    "year": int,
    "author": str,
    "category": str,
    "tags": str,
    "url": str,
    "original_url": str,
    "archived_at": str,
    "last_updated": str,
    "body": str,
    "figure_count": int,
    "char_count": int,
    "source_path": str,
}
FIGURE_COLUMNS = {
    "id": int,
    "article_id": int,
    "position": int,
    "image_url": str,
    "original_image_url": str,
    "alt": str,
    "caption": str,
    "credit": str,
}

# External-content FTS5 tables: the rows hold index terms, the text stays in
# the content table. Their column names exist in the content table, so
# Datasette can count and read them, and content="..." is what both Datasette
# and datasette-search-all look for to find a table's search index.
FTS_TABLES = {
    # char_count names the one-character column (index_chars) because an
    # external-content table may only name columns of its content table. It
    # comes first: FTS5 stores positions in the first column without a
    # column marker, two bytes less for each of its 300-odd terms an article.
    "articles_fts": ("articles", ("char_count", "title", "body")),
    "figures_fts": ("figures", ("caption", "alt")),
}
FTS_OPTIONS = "tokenize='unicode61 remove_diacritics 2'"


def create_tables(db):
    db["articles"].create(ARTICLE_COLUMNS, pk="id", not_null={"source_path"})
    db["figures"].create(FIGURE_COLUMNS, pk="id", foreign_keys=[("article_id", "articles", "id")])
    db["tags"].create({"id": int, "name": str, "article_count": int}, pk="id", not_null={"name"})
    db["article_tags"].create(
        {"article_id": int, "tag_id": int},
        pk=("article_id", "tag_id"),
        foreign_keys=[("article_id", "articles", "id"), ("tag_id", "tags", "id")],
    )
    db["authors"].create(
        {"name": str, "role": str, "bio": str, "avatar_url": str, "article_count": int}, pk="name"
    )
    db["articles"].add_foreign_key("author", "authors", "name")
    # Each article's author box as found; authors keeps the newest per name.
    db["author_boxes"].create(
        {"article_id": int, "name": str, "role": str, "bio": str, "avatar_url": str},
        pk="article_id",
        foreign_keys=[("article_id", "articles", "id")],
    )
    # What each article was built from, so a rebuild re-reads only what changed.
    db.execute(
        "create table sources (path text primary key, size integer, mtime_ns integer, article_id integer) without rowid"
    )
    db["build_info"].create({"key": str, "value": str}, pk="key")
    create_fts_tables(db.conn)


def create_fts_tables(conn):
    for fts, (content, columns) in FTS_TABLES.items():
        conn.execute(
            f"create virtual table [{fts}] using fts5({', '.join(columns)}, "
            f"content=[{content}], {FTS_OPTIONS})"
        )


# What the articles table page sorts (date, first) and facets by.
INDEXED_COLUMNS = ("date", "year", "author", "category")


def create_indexes(db):
    db["tags"].create_index(["name"], unique=True, if_not_exists=True)
    db["article_tags"].create_index(["tag_id", "article_id"], if_not_exists=True)
    for column in INDEXED_COLUMNS[1:]:
        db["articles"].create_index([column], if_not_exists=True)
    # Newest first, and within a day by id ascending: the order Datasette
    # 0.65's next-page clause assumes for ties (date = :p0 and id > :p1) but
    # does not ask for on the first page, whose ties would otherwise come in
    # whatever order a plan yields them, so that CSV exports and page 2
    # skipped or repeated articles of the day a page ended on.
    db["articles"].create_index([DescIndex("date"), "id"], if_not_exists=True)
    # A search filters by rowid (= id). With this index, counts and facets
    # over thousands of hits read one small index instead of the article
    # rows, whose bodies spread them over many pages.
    db["articles"].create_index(["id", *INDEXED_COLUMNS], if_not_exists=True)
    db["figures"].create_index(["article_id", "position"], if_not_exists=True)
    db["figures"].create_index(["credit"], if_not_exists=True)
    db["sources"].create_index(["article_id"], if_not_exists=True)


def code_version():
    """A hash of the code that decides what a file becomes: a database built
    by other code is rebuilt in full, never patched."""
    digest = hashlib.sha1(TERMS_SCHEME.encode())
    for module in ("articles.py", "figures.py", "terms.py", "schema.py"):
        digest.update((Path(__file__).parent / module).read_bytes())
    return digest.hexdigest()[:16]


def row_counts(conn):
    """The numbers the build's summary line reports."""
    return {t: conn.execute(f"select count(*) from [{t}]").fetchone()[0] for t in ("articles", "figures", "tags", "authors")}


def _fts_insert(fts, delete=False):
    """The statement that adds (or, given the same values, deletes) a row."""
    columns = FTS_TABLES[fts][1]
    command, marker = (f"[{fts}], ", "'delete', ") if delete else ("", "")
    return (
        f"insert into [{fts}] ({command}rowid, {', '.join(columns)}) "
        f"values ({marker}?, {', '.join('?' * len(columns))})"
    )


def article_fts_values(title, text, figures):
    """The index terms of an article: its title; the text a reader sees in
    its body and its figures; and every character of both, once. Used to add
    and, identically, to delete."""
    seen_in_figures = [" ".join(filter(None, (f["caption"], f["credit"], f["alt"]))) for f in figures]
    body = "\n".join([text] + seen_in_figures)
    return index_chars(f"{title or ''}\n{body}"), index_terms(title or ""), index_terms(body)


def figure_fts_values(figure):
    caption = " ".join(filter(None, (figure["caption"], figure["credit"])))
    return index_terms(caption), index_terms(figure["alt"] or "")


def prepare_file(job):
    """Parse one file and compute its index terms: the work a build process
    hands to its workers. Returns ``(kind, payload)`` where kind is "article",
    "invalid" (payload: message) or "skipped" (payload: message)."""
    path, relative_path = job
    try:
        parsed = parse_article(path, relative_path)
    except InvalidArticle as e:
        return "invalid", str(e)
    except NotAnArticle as e:
        return "skipped", str(e)
    parsed["fts"] = article_fts_values(parsed["article"]["title"], parsed.pop("text"), parsed["figures"])
    for figure in parsed["figures"]:
        figure["fts"] = figure_fts_values(figure)
    return "article", parsed


FTS_SHADOW_TABLES = ("data", "idx", "docsize", "config")
# Articles are a few kilobytes each: on 8 KB pages less of each page is left
# unused (the file is 2% smaller) and searches read slightly faster.
PAGE_SIZE = 8192


def fts_writer(path, queue):
    """Build the full-text index of a fresh build in a database of its own,
    in a process of its own: indexing every character pair of the archive
    takes as long as everything else the writer does, and the machine has
    a core for it. The writer copies the finished index in at the end."""
    try:
        _write_fts(path, queue)
    except (sqlite3.Error, OSError) as e:
        # A full disk, say: one line of why, and the build, seeing the exit
        # status, stops and says so.
        print(f"error: writing the full-text index failed: {e}", file=sys.stderr)
        os._exit(1)


def _write_fts(path, queue):
    conn = sqlite3.connect(path)
    conn.execute(f"pragma page_size = {PAGE_SIZE}")
    conn.execute("pragma journal_mode = off")
    conn.execute("pragma synchronous = off")
    create_fts_tables(conn)
    for fts in FTS_TABLES:
        # Segments are merged once, by 'optimize' at the end.
        conn.execute(f"insert into [{fts}] ([{fts}], rank) values ('automerge', 0)")
    parent = os.getppid()
    while True:
        try:
            batch = queue.get(timeout=5)
        except Empty:
            if os.getppid() != parent:
                return  # the build was killed; its next run removes the file
            continue
        if batch is None:
            break
        fts, rows = batch
        conn.executemany(_fts_insert(fts), rows)
        conn.commit()
    for fts in FTS_TABLES:
        conn.execute(f"insert into [{fts}] ([{fts}]) values ('optimize')")
        conn.execute(f"insert into [{fts}] ([{fts}], rank) values ('automerge', 4)")
    conn.commit()
    conn.close()


class Writer:
    """Writes prepared articles in batches, then the tables derived from all
    of them (tag counts, authors) once every article is in.

    ``fresh=False`` opens a copy of an earlier build instead, to remove and
    add single articles.
    """

    def __init__(self, path, fresh=True, batch_size=500):
        self.db = sqlite_utils.Database(path)
        # The file is renamed into place only when complete, so a crash
        # loses nothing a journal would have saved.
        self.db.execute("pragma journal_mode = off")
        self.db.execute("pragma synchronous = off")
        self.fresh = fresh
        self.fts_process = None
        if fresh:
            self.db.execute(f"pragma page_size = {PAGE_SIZE}")
            create_tables(self.db)
            self.fts_path = f"{path}-fts"
            context = multiprocessing.get_context("fork")
            self.fts_queue = context.Queue(maxsize=8)
            self.fts_process = context.Process(target=fts_writer, args=(self.fts_path, self.fts_queue), daemon=True)
            self.fts_process.start()
        self.batch_size = batch_size
        self.pending = []
        self.tag_ids = {name: tag_id for tag_id, name in self.db.execute("select id, name from tags")}
        self.next_tag_id = max(self.tag_ids.values(), default=0) + 1
        self.figure_id = self.db.execute("select coalesce(max(id), 0) from figures").fetchone()[0]

    def add(self, parsed, source):
        """Queue one prepared article; ``source`` is (path, size, mtime_ns)."""
        self.pending.append((parsed, source))
        if len(self.pending) >= self.batch_size:
            self.flush()

    def flush(self):
        articles, article_fts, figures, figure_fts, article_tags = [], [], [], [], []
        new_tags, boxes, sources = [], [], []
        for parsed, (path, size, mtime_ns) in self.pending:
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
            sources.append({"path": path, "size": size, "mtime_ns": mtime_ns, "article_id": article["id"]})
        with self.db.conn:
            # Plain executemany rather than insert_all: the rows already have
            # the tables' columns, and sqlite-utils' per-value checks cost
            # the writer a tenth of a full build.
            self._insert("articles", ARTICLE_COLUMNS, articles)
            self._insert("figures", FIGURE_COLUMNS, figures)
            self._insert("tags", ("id", "name"), new_tags)
            self._insert("article_tags", ("article_id", "tag_id"), article_tags)
            self._insert("author_boxes", ("article_id", "name", "role", "bio", "avatar_url"), boxes)
            self._insert("sources", ("path", "size", "mtime_ns", "article_id"), sources, "or replace")
            if self.fts_process:
                self._to_fts_process(("articles_fts", article_fts))
                self._to_fts_process(("figures_fts", figure_fts))
            else:
                self.db.conn.executemany(_fts_insert("articles_fts"), article_fts)
                self.db.conn.executemany(_fts_insert("figures_fts"), figure_fts)
        self.pending = []

    def _insert(self, table, columns, rows, verb=""):
        if rows:
            self.db.conn.executemany(
                f"insert {verb} into [{table}] ({', '.join(columns)}) values ({', '.join('?' * len(columns))})",
                [tuple(row[c] for c in columns) for row in rows],
            )

    def remove(self, article_ids):
        """Take articles out of every table and index, as if never added."""
        db = self.db
        with db.conn:
            for article_id in article_ids:
                row = db.execute("select title, body from articles where id = ?", [article_id]).fetchone()
                if row is None:
                    continue
                title, body = row
                figures = [
                    dict(zip(("id", "caption", "credit", "alt"), f))
                    for f in db.execute(
                        "select id, caption, credit, alt from figures where article_id = ? order by position",
                        [article_id],
                    )
                ]
                # External-content FTS5 forgets a row only when given the
                # exact terms it indexed, which are recomputed from the row.
                db.execute(
                    _fts_insert("articles_fts", delete=True),
                    [article_id, *article_fts_values(title, visible_text(body or ""), figures)],
                )
                for figure in figures:
                    db.execute(_fts_insert("figures_fts", delete=True), [figure["id"], *figure_fts_values(figure)])
                for table in ("figures", "article_tags", "author_boxes", "sources"):
                    db.execute(f"delete from [{table}] where article_id = ?", [article_id])
                db.execute("delete from articles where id = ?", [article_id])

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
            db.execute(
                "update tags set article_count = (select count(*) from article_tags where tag_id = tags.id)"
            )
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
            db.execute(
                "update authors set article_count = (select count(*) from articles where author = authors.name)"
            )
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
