"""The tables and indexes the build writes, and the numbers it reports."""

from sqlite_utils.db import DescIndex

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
    "capture_count": int,
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
# One row per file of the backup: what it is, and its size and modification
# time, so that a rebuild re-reads only the files that changed.
CAPTURE_COLUMNS = {
    "id": int,
    "article_id": int,
    "status": str,
    "reason": str,
    "url": str,
    "original_url": str,
    "archived_at": str,
    "source_path": str,
    "char_count": int,
    "similarity": float,
    "body": str,
    "file_size": int,
    "file_mtime_ns": int,
}
AUTHOR_BOX_COLUMNS = ("article_id", "name", "role", "bio", "avatar_url")

# Articles are a few kilobytes each: on 8 KB pages less of each page is left
# unused (the file is 2% smaller) and searches read slightly faster.
PAGE_SIZE = 8192


def create_tables(db):
    db["articles"].create(ARTICLE_COLUMNS, pk="id", not_null={"source_path"})
    db["figures"].create(FIGURE_COLUMNS, pk="id", foreign_keys=[("article_id", "articles", "id")])
    db["tags"].create({"id": int, "name": str, "article_count": int}, pk="id", not_null={"name"})
    db["article_tags"].create(
        {"article_id": int, "tag_id": int},
        pk=("article_id", "tag_id"),
        foreign_keys=[("article_id", "articles", "id"), ("tag_id", "tags", "id")],
    )
    db["authors"].create({"name": str, "role": str, "bio": str, "avatar_url": str, "article_count": int}, pk="name")
    db["articles"].add_foreign_key("author", "authors", "name")
    # Each article's author box as found; authors keeps the newest per name.
    db["author_boxes"].create(
        {"article_id": int, "name": str, "role": str, "bio": str, "avatar_url": str},
        pk="article_id",
        foreign_keys=[("article_id", "articles", "id")],
    )
    db["captures"].create(
        CAPTURE_COLUMNS,
        pk="id",
        not_null={"status", "source_path"},
        foreign_keys=[("article_id", "articles", "id")],
    )
    db["build_info"].create({"key": str, "value": str}, pk="key")


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
    # An article page lists its captures; the captures table facets by
    # status and reason without reading every row's addresses.
    db["captures"].create_index(["article_id"], if_not_exists=True)
    db["captures"].create_index(["status", "reason"], if_not_exists=True)


def row_counts(conn):
    """The numbers the build's summary line reports."""
    counts = {
        t: conn.execute(f"select count(*) from [{t}]").fetchone()[0]
        for t in ("articles", "figures", "tags", "authors", "captures")
    }
    statuses = dict(conn.execute("select status, count(*) from captures group by status").fetchall())
    counts["repeats"] = statuses.get("repeat", 0)
    counts["failed"] = statuses.get("failed", 0)
    return counts


def write_derived_tables(db, build_info):
    """The tables derived from every article, once all are in: tag counts,
    authors (the newest author box of each writer, then every other
    byline) and their counts, and build_info."""
    db.execute("update tags set article_count = (select count(*) from article_tags where tag_id = tags.id)")
    db.execute("delete from tags where article_count = 0")
    db.execute("delete from authors")
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
    db.execute("insert or ignore into authors (name) select distinct author from articles where author is not null")
    db.execute("update authors set article_count = (select count(*) from articles where author = authors.name)")
    db["build_info"].insert_all([{"key": k, "value": v} for k, v in build_info.items()], replace=True)
