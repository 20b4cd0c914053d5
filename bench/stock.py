"""The stock setup the bundle is measured against: every article inserted
with sqlite-utils, enable_fts(["title", "body"]) with its defaults."""

import time
from pathlib import Path

import frontmatter
import sqlite_utils

COLUMNS = ("title", "date", "author", "category", "tags", "url", "original_url")


def stock_rows(seeds):
    for path in sorted(Path(seeds).rglob("*.md")):
        try:
            post = frontmatter.load(path)
        except Exception:
            continue  # stock has no repair: what YAML rejects is left out
        row = {c: post.metadata.get(c) for c in COLUMNS}
        row["date"] = str(row["date"]) if row["date"] is not None else None
        row["body"] = post.content
        row["path"] = path.relative_to(seeds).as_posix()
        yield row


def build_stock(seeds, db_path):
    """Returns seconds taken."""
    start = time.perf_counter()
    Path(db_path).unlink(missing_ok=True)
    db = sqlite_utils.Database(db_path)
    db["articles"].insert_all(stock_rows(seeds), pk="path", batch_size=1000)
    db["articles"].enable_fts(["title", "body"])
    db.close()
    return time.perf_counter() - start


if __name__ == "__main__":
    import sys

    build_stock(sys.argv[1], sys.argv[2])
