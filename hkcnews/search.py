"""Search a downloaded archive database with the archive's own search
rules, outside Datasette:

    python -m hkcnews.search news.db 國安法 [--table figures] [--limit 20] [--csv]
    python -m hkcnews.search news.db 国安法 --sql      # the SQL, for any SQLite client

The index holds Chinese as overlapping character pairs (hkcnews/terms.py),
so a tool that passes the words to MATCH as they are, such as
`sqlite-utils search`, finds nothing. This prints the matching rows as
JSON (or CSV), most relevant first, as `sqlite-utils search` does; --sql
prints the query with its MATCH expression written out instead.
"""

import argparse
import csv
import json
import sqlite3
import sys

from hkcnews.ours import not_an_archive
from hkcnews.terms import MATCH_NOTHING, SQL_FUNCTIONS, QuerySyntaxError, check_sql, column_fts_query, fts_query

# Columns shown for each searchable table, in the canned search's order:
# the articles whose headline matches first, newest first, then the rest
# most relevant first (a match in the title counts more).
QUERIES = {
    "articles": (
        "select articles.id, articles.title, articles.date, articles.author, articles.category, articles.url\n"
        "from articles_fts join articles on articles.id = articles_fts.rowid\n"
        "where articles_fts match {match}{check}\n"
        "order by articles.id in (select rowid from articles_fts where articles_fts match {title_match}) desc,\n"
        "  case when articles.id in (select rowid from articles_fts where articles_fts match {title_match})\n"
        "    then articles.date || printf('%012d', articles.id) end desc,\n"
        "  bm25(articles_fts, 0.0, 5.0, 1.0), articles.date desc\n"
        "limit {limit}"
    ),
    "figures": (
        "select figures.article_id, figures.position, figures.caption, figures.credit, figures.image_url\n"
        "from figures_fts join figures on figures.rowid = figures_fts.rowid\n"
        "where figures_fts match {match}{check}\n"
        "order by figures_fts.rank, figures.article_id desc, figures.position\n"
        "limit {limit}"
    ),
}


def search_sql(query, table="articles", limit=20, check=True):
    """The SQL that runs ``query`` with the archive's search rules, its
    MATCH expression written out as an SQL string. With ``check``, the exact
    check of a NEAR search's candidates as well (terms.check_sql, which calls
    SQL functions of this package); without, for any SQLite client, a NEAR
    search finds a few rows more than the site."""
    match = fts_query(query).replace("'", "''")
    title_match = column_fts_query(query, "title").replace("'", "''")
    where = ""
    if check:
        literal = "'" + query.replace("'", "''") + "'"
        where = "\n  and " + check_sql("query", table).replace(":query", literal)
    return QUERIES[table].format(match=f"'{match}'", title_match=f"'{title_match}'", limit=int(limit), check=where)


def search(db, query, table="articles", limit=20):
    """[row dict] of ``query`` in ``table`` of the database file ``db``."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    for name, (arity, function) in SQL_FUNCTIONS.items():
        conn.create_function(name, arity, function, deterministic=True)
    try:
        return [dict(row) for row in conn.execute(search_sql(query, table, limit))]
    finally:
        conn.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("db", help="a database build_db.py made")
    parser.add_argument("query", help="words to find, as in the search box")
    parser.add_argument("--table", choices=sorted(QUERIES), default="articles")
    parser.add_argument("--limit", type=int, default=20, help="rows at most (default 20)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--csv", action="store_true", help="CSV instead of JSON")
    output.add_argument("--sql", action="store_true", help="print the SQL instead of running it")
    args = parser.parse_args(argv)
    if args.limit < 1:
        parser.error(f"--limit {args.limit}: must be 1 or more")
    try:
        fts_query(args.query)
    except QuerySyntaxError as e:
        print(f"hkcnews.search: {e}", file=sys.stderr)
        return 2
    if args.sql:
        print(search_sql(args.query, args.table, args.limit, check=False) + ";")
        return 0
    problem = not_an_archive(args.db)
    if problem:
        print(f"hkcnews.search: {problem}", file=sys.stderr)
        return 2
    if fts_query(args.query) == MATCH_NOTHING:
        print(f"hkcnews.search: {args.query!r} has no letters or digits to search for", file=sys.stderr)
        return 2
    rows = search(args.db, args.query, args.table, args.limit)
    if args.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else [], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
