"""The full-text index: what each article and figure is indexed as, and the
process that builds the index of a fresh build beside the writer."""

import multiprocessing
import os
import sqlite3
import sys
import threading
import time
from queue import Full

from hkcnews.build.tables import PAGE_SIZE
from hkcnews.terms import index_article, index_terms, searched_body

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
FTS_SHADOW_TABLES = ("data", "idx", "docsize", "config")


def create_fts_tables(conn):
    for fts, (content, columns) in FTS_TABLES.items():
        conn.execute(
            f"create virtual table [{fts}] using fts5({', '.join(columns)}, content=[{content}], {FTS_OPTIONS})"
        )


def fts_insert(fts, delete=False):
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
    body = searched_body(text, [(f["caption"], f["credit"], f["alt"]) for f in figures])
    return index_article(title, body)


def figure_fts_values(figure):
    caption = " ".join(filter(None, (figure["caption"], figure["credit"])))
    return index_terms(caption), index_terms(figure["alt"] or "")


def fts_writer(path, queue, build_pid):
    """Build the full-text index of a fresh build in a database of its own,
    in a process of its own: indexing every character pair of the archive
    takes as long as everything else the writer does, and the machine has
    a core for it. The writer copies the finished index in at the end.
    ``build_pid`` is the build's process, whose end ends this one."""
    exit_with(build_pid)
    try:
        _write_fts(path, queue)
    except (sqlite3.Error, OSError) as e:
        # A full disk, say: one line of why, and the build, seeing the exit
        # status, stops and says so.
        print(f"error: writing the full-text index failed: {e}", file=sys.stderr)
        os._exit(1)


def exit_with(build_pid):
    """End this process as soon as the build that started it is gone. A
    build killed while it sends a batch leaves half a message in the pipe,
    and reading the rest would wait forever: this process holds the pipe's
    other end too (fork), so it never sees the end of the file. The next
    build removes the index file left behind. The build's pid comes from
    the build: asked here, it could already be the pid of whatever adopted
    this process."""

    def watch():
        while os.getppid() == build_pid:
            time.sleep(0.2)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def _write_fts(path, queue):
    conn = sqlite3.connect(path)
    conn.execute(f"pragma page_size = {PAGE_SIZE}")
    conn.execute("pragma journal_mode = off")
    conn.execute("pragma synchronous = off")
    create_fts_tables(conn)
    for fts in FTS_TABLES:
        # Segments are merged once, by 'optimize' at the end.
        conn.execute(f"insert into [{fts}] ([{fts}], rank) values ('automerge', 0)")
    while True:
        batch = queue.get()
        if batch is None:
            break
        fts, rows = batch
        conn.executemany(fts_insert(fts), rows)
        conn.commit()
    for fts in FTS_TABLES:
        conn.execute(f"insert into [{fts}] ([{fts}]) values ('optimize')")
        conn.execute(f"insert into [{fts}] ([{fts}], rank) values ('automerge', 4)")
    conn.commit()
    conn.close()


class IndexProcess:
    """The process that builds a fresh build's full-text index in a file of
    its own (fts_writer) while the writer inserts rows, and the copy of its
    shadow tables into the database when it is done."""

    def __init__(self, db_path):
        self.path = f"{db_path}-fts"
        context = multiprocessing.get_context("fork")
        self.queue = context.Queue(maxsize=8)
        self.process = context.Process(target=fts_writer, args=(self.path, self.queue, os.getpid()), daemon=True)
        self.process.start()

    def send(self, batch):
        """One (fts table, rows) batch, or None when there are no more."""
        # The queue is bounded: if the index process died (a full disk),
        # a plain put() would wait for it forever.
        while True:
            try:
                self.queue.put(batch, timeout=1)
                return
            except Full:
                if not self.process.is_alive():
                    raise self._failed() from None

    def _failed(self):
        return RuntimeError(f"the full-text index process failed (exit status {self.process.exitcode})")

    def copy_into(self, db):
        """Wait for the index process and copy its tables into ``db``. FTS5
        keeps an index in ordinary shadow tables, so a copy of their rows is
        the index."""
        self.process.join()
        if self.process.exitcode != 0:
            raise self._failed()
        db.execute("attach database ? as side", [self.path])
        with db.conn:
            for fts in FTS_TABLES:
                for shadow in FTS_SHADOW_TABLES:
                    db.execute(f"delete from main.[{fts}_{shadow}]")
                    db.execute(f"insert into main.[{fts}_{shadow}] select * from side.[{fts}_{shadow}]")
        db.execute("detach database side")
        os.unlink(self.path)

    def stop(self):
        """Stop the index process of a build that failed and remove its file."""
        self.process.kill()
        self.process.join()
        # Batches nobody will read: without this, exit waits for the
        # queue's feeder thread to push them into a pipe no one empties.
        self.queue.cancel_join_thread()
        if os.path.exists(self.path):
            os.unlink(self.path)
