"""What the language pages (concordance, collocates, keywords) share: the
articles table's search and filters, read from the same parameters and
matched the same way; the texts of the articles they match; their
archive, refusals, CSV and the links other pages give to them."""

import csv
import html
import io
import random
import re
from dataclasses import dataclass, field
from urllib.parse import urlencode

from datasette.utils.asgi import BadRequest, NotFound, Response

from hkcnews.compat import ensure_can_view_table
from hkcnews.config import PLUGIN
from hkcnews.ours import ARTICLES, built_by_us
from hkcnews.site.excerpts import figures_of
from hkcnews.site.filters import tag_filter_clauses
from hkcnews.terms import (
    QuerySyntaxError,
    article_text,
    check_query,
    check_sql,
    fts_query,
    query_terms,
    search_needs_check,
)

# The parameters of the articles table page that a language page takes too.
FILTERS = ("q", "tags__arraycontains", "category", "author", "year", "date__gte", "date__lte")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
TEXTS = "article_texts"
# Texts read per query: a bound on what one step holds in memory.
_TEXT_BATCH = 500


class _Prefixed:
    """Request arguments seen without a prefix (ref_tags__arraycontains as
    tags__arraycontains), for the filters of keywords' reference set."""

    def __init__(self, args, prefix):
        self.args, self.prefix = args, prefix

    def getlist(self, name):
        return self.args.getlist(self.prefix + name)


@dataclass
class Selection:
    """A search and filters of the articles table, as given."""

    prefix: str = ""
    pairs: list = field(default_factory=list)  # (name, value) in the order given
    q: str = ""

    @property
    def empty(self):
        return not self.pairs

    def table_args(self):
        """The articles table page's query string pairs for this selection."""
        return [("_search" if name == "q" else name, value) for name, value in self.pairs]

    def args(self, prefix=None):
        prefix = self.prefix if prefix is None else prefix
        return [(prefix + name, value) for name, value in self.pairs]

    def describe(self):
        return ", ".join(f"{name} = {value}" for name, value in self.pairs) or "the whole archive"


def selection(args, prefix=""):
    """The search and filters of ``args`` (those named with ``prefix``),
    checked: a bad one is a 400 that names it."""
    view = _Prefixed(args, prefix)
    pairs = []
    for name in FILTERS:
        values = [v.strip() for v in view.getlist(name) if v.strip()]
        if name != "tags__arraycontains":
            values = values[-1:]
        for value in values:
            if name == "year" and not value.isdigit():
                raise BadRequest(f"{prefix}year: {value!r} is not a year")
            if name in ("date__gte", "date__lte") and not _DATE.match(value):
                raise BadRequest(f"{prefix}{name}: {value!r} is not a date (YYYY-MM-DD)")
            pairs.append((name, value))
    q = next((v for n, v in pairs if n == "q"), "")
    if q:
        try:
            check_query(q)
        except QuerySyntaxError as e:
            raise BadRequest(f"{prefix}q: {e}") from None
        if not query_terms(q):
            raise BadRequest(f"{prefix}q: {q!r} has no letters or digits to search for")
    return Selection(prefix, pairs, q)


def where(sel):
    """(SQL condition on the articles table, params) for a selection."""
    clauses, params = tag_filter_clauses(_Pairs(sel.pairs))
    for name, value in sel.pairs:
        if name == "q":
            # The FTS expression the search box's escape_fts makes.
            clauses.append(f"[{ARTICLES}].id in (select rowid from {ARTICLES}_fts where {ARTICLES}_fts match :match)")
            params["match"] = fts_query(value)
            if search_needs_check(value):
                # FTS5 finds NEAR's candidates; the query's own check keeps the exact ones.
                clauses.append(check_sql("q", f"[{ARTICLES}]"))
                params["q"] = value
        elif name in ("category", "author"):
            clauses.append(f"[{ARTICLES}].{name} = :{name}")
            params[name] = value
        elif name == "year":
            clauses.append(f"[{ARTICLES}].year = :year")
            params["year"] = int(value)
        elif name == "date__gte":
            clauses.append(f"[{ARTICLES}].date >= :date_gte")
            params["date_gte"] = value
        elif name == "date__lte":
            clauses.append(f"[{ARTICLES}].date <= :date_lte")
            params["date_lte"] = value
    return " and ".join(clauses) or "1", params


class _Pairs:
    """(name, value) pairs read as request arguments."""

    def __init__(self, pairs):
        self.pairs = pairs

    def getlist(self, name):
        return [v for n, v in self.pairs if n == name]


def matching_ids(conn, sel):
    """The ids of the articles a selection matches, newest first (then by id,
    as the articles table orders a day)."""
    condition, params = where(sel)
    sql = f"select id from [{ARTICLES}] where {condition} order by date desc, id"
    return [row[0] for row in conn.execute(sql, params)]


def folded_texts(conn, ids):
    """(id, folded text) of each article, in the order of ``ids``, read in batches."""
    for i in range(0, len(ids), _TEXT_BATCH):
        batch = ids[i : i + _TEXT_BATCH]
        found = dict(
            conn.execute(
                f"select article_id, folded from {TEXTS} where article_id in ({', '.join('?' * len(batch))})", batch
            )
        )
        for article_id in batch:
            yield article_id, found.get(article_id, "")


def original_texts(conn, ids):
    """{id: (row, article_text)}: the article's row (title, date, author,
    url) and the text whose folded form article_texts holds."""
    out = {}
    ids = list(dict.fromkeys(ids))
    for i in range(0, len(ids), _TEXT_BATCH):
        batch = ids[i : i + _TEXT_BATCH]
        marks = ", ".join("?" * len(batch))
        figures = figures_of(conn, batch)
        for article_id, title, date, author, url, body in conn.execute(
            f"select id, title, date, author, url, body from [{ARTICLES}] where id in ({marks})", batch
        ):
            row = {"article_id": article_id, "title": title, "date": date, "author": author, "url": url}
            out[article_id] = (row, article_text(title, body, figures.get(article_id, [])))
    return out


def sampled(items, size, seed):
    """``items`` as they are, or a seeded random sample of ``size`` of them
    in their order."""
    if len(items) <= size:
        return items
    chosen = sorted(random.Random(seed).sample(range(len(items)), size))
    return [items[i] for i in chosen]


async def archive_database(datasette, request):
    """The archive a language page asks for, once the actor may read its
    articles; a database build_db.py did not make is not found."""
    database = request.url_vars["database"]
    if database not in datasette.databases or not await built_by_us(datasette, database):
        raise NotFound(f"Database not found: {database}")
    await ensure_can_view_table(datasette, request.actor, database, ARTICLES)
    db = datasette.get_database(database)
    if TEXTS not in await db.table_names():
        raise NotFound(
            f"{database} was built before the concordance, collocates and keywords: "
            "build it again (python build_db.py --seeds DIR --db FILE) to read them"
        )
    return database, db


def setting(datasette, name, default):
    """A number of the plugin's configuration (tests lower the sample sizes)."""
    return int((datasette.plugin_config(PLUGIN) or {}).get(name, default))


def refused(extension, message):
    """A 400 in the form asked for: JSON lines and CSV as text, a page as
    Datasette's error page."""
    if extension in (".csv", ".jsonl"):
        return Response.text(f"{message}\n", status=400)
    raise BadRequest(message)


def language_links(datasette, database, table_args):
    """The concordance, collocates and keywords of an articles table page's
    search and filters ({"concordance", "collocates", "keywords"}; a link
    is None where the page has no search, or nothing to compare), or None."""
    pairs = [("q", table_args.get("_search", "").strip())] if table_args.get("_search", "").strip() else []
    pairs += [(name, v) for name in FILTERS[1:] for v in table_args.getlist(name) if v.strip()]
    if not pairs:
        return None
    base = datasette.urls.database(database)
    query = urlencode(pairs)
    searched = pairs[0][0] == "q"
    return {
        "concordance": f"{base}/-/concordance?{query}" if searched else None,
        "collocates": f"{base}/-/collocates?{query}" if searched else None,
        "keywords": f"{base}/-/keywords?{query}",
    }


def as_written(conn, places):
    """{key: the characters of an article at (article_id, offset, length)}:
    an n-gram counted in folded form, as an article of the archive writes it."""
    texts = original_texts(conn, [article_id for article_id, _, _ in places.values()])
    return {
        key: texts[article_id][1][offset : offset + length]
        for key, (article_id, offset, length) in places.items()
        if article_id in texts
    }


def as_csv(rows, columns):
    """``rows`` (dicts) as CSV with ``columns``, CRLF as Datasette writes its CSV."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


LINK_LABELS = {
    "concordance": "詞語索引 Concordance",
    "collocates": "搭配詞 Collocates",
    "keywords": "關鍵詞 Keywords of these articles",
}


def language_links_html(links):
    """The links of language_links as HTML, " · " between them."""
    return " · ".join(
        f'<a href="{html.escape(url)}">{LINK_LABELS[name]}</a>' for name, url in (links or {}).items() if url
    )
