"""The database the build writes: tables, indexes and full-text rows."""
import json

import sqlite_utils

from .articles import InvalidArticle, NotAnArticle, parse_article
from .terms import TERMS_SCHEME, index_terms

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
    "articles_fts": ("articles", ("title", "body")),
    "figures_fts": ("figures", ("caption", "alt")),
}
FTS_OPTIONS = "tokenize='unicode61 remove_diacritics 2', prefix='1'"


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
    db["build_info"].create({"key": str, "value": str}, pk="key")
    for fts, (content, columns) in FTS_TABLES.items():
        db.execute(
            f"create virtual table [{fts}] using fts5({', '.join(columns)}, "
            f"content=[{content}], {FTS_OPTIONS})"
        )


def create_indexes(db):
    db["tags"].create_index(["name"], unique=True)
    db["article_tags"].create_index(["tag_id", "article_id"])
    for column in ("date", "year", "author", "category"):
        db["articles"].create_index([column])
    db["figures"].create_index(["article_id", "position"])
    db["figures"].create_index(["credit"])


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
    article, figures = parsed["article"], parsed["figures"]
    seen_in_figures = [
        " ".join(filter(None, (f["caption"], f["credit"], f["alt"]))) for f in figures
    ]
    parsed["fts"] = {
        "title": index_terms(article["title"] or ""),
        "body": index_terms("\n".join([parsed.pop("text")] + seen_in_figures)),
    }
    for figure in figures:
        figure["fts"] = {
            "caption": index_terms(" ".join(filter(None, (figure["caption"], figure["credit"])))),
            "alt": index_terms(figure["alt"] or ""),
        }
    return "article", parsed


class Writer:
    """Writes prepared articles in batches, then the tables derived from all
    of them (tags with counts, authors) once every article is in."""

    def __init__(self, path, batch_size=500):
        self.db = sqlite_utils.Database(path)
        # The file is renamed into place only when complete, so a crash
        # loses nothing a journal would have saved.
        self.db.execute("pragma journal_mode = off")
        self.db.execute("pragma synchronous = off")
        create_tables(self.db)
        self.batch_size = batch_size
        self.pending = []
        self.tag_ids = {}
        self.authors = {}
        self.figure_id = 0
        self.counts = {"articles": 0, "figures": 0}

    def add(self, parsed):
        self.pending.append(parsed)
        if len(self.pending) >= self.batch_size:
            self.flush()

    def flush(self):
        articles, article_fts, figures, figure_fts, article_tags = [], [], [], [], []
        for parsed in self.pending:
            article = dict(parsed["article"])
            tags = article["tags"]
            article["tags"] = json.dumps(tags, ensure_ascii=False)
            articles.append(article)
            article_fts.append((article["id"], parsed["fts"]["title"], parsed["fts"]["body"]))
            for name in tags:
                tag_id = self.tag_ids.setdefault(name, len(self.tag_ids) + 1)
                article_tags.append({"article_id": article["id"], "tag_id": tag_id})
            for figure in parsed["figures"]:
                self.figure_id += 1
                fts = figure.pop("fts")
                figures.append({"id": self.figure_id, "article_id": article["id"], **figure})
                figure_fts.append((self.figure_id, fts["caption"], fts["alt"]))
            self.remember_author(parsed)
        with self.db.conn:
            self.db["articles"].insert_all(articles, batch_size=self.batch_size)
            self.db["figures"].insert_all(figures, batch_size=self.batch_size)
            self.db["article_tags"].insert_all(article_tags, batch_size=self.batch_size)
            self.db.conn.executemany(
                "insert into articles_fts (rowid, title, body) values (?, ?, ?)", article_fts
            )
            self.db.conn.executemany(
                "insert into figures_fts (rowid, caption, alt) values (?, ?, ?)", figure_fts
            )
        self.counts["articles"] += len(articles)
        self.counts["figures"] += len(figures)
        self.pending = []

    def remember_author(self, parsed):
        # An author's bio changed over the years: keep the newest one.
        box = parsed["author"]
        if not box:
            return
        article = parsed["article"]
        key = (article["date"] or "", article["source_path"])
        if box["name"] not in self.authors or key > self.authors[box["name"]][0]:
            self.authors[box["name"]] = (key, box)

    def finish(self):
        """Write the derived tables and indexes; returns the row counts."""
        self.flush()
        db = self.db
        with db.conn:
            db["tags"].insert_all(
                ({"id": tag_id, "name": name} for name, tag_id in self.tag_ids.items()),
                batch_size=1000,
            )
            db["authors"].insert_all((box for _, box in self.authors.values()), batch_size=1000)
            db.execute(
                "insert or ignore into authors (name) select distinct author from articles "
                "where author is not null"
            )
            create_indexes(db)
            db.execute(
                "update tags set article_count = (select count(*) from article_tags "
                "where tag_id = tags.id)"
            )
            db.execute(
                "update authors set article_count = (select count(*) from articles "
                "where author = authors.name)"
            )
            db["build_info"].insert_all(
                [{"key": "terms_scheme", "value": TERMS_SCHEME}], replace=True
            )
            for fts in FTS_TABLES:
                db.execute(f"insert into [{fts}] ([{fts}]) values ('optimize')")
        db.execute("analyze")
        self.counts["tags"] = len(self.tag_ids)
        self.counts["authors"] = db["authors"].count
        db.close()
        return self.counts
