"""Terms compared over time: /<database>/-/trends?q=國安法&q=23條 draws, for
up to five terms, the articles that match each per month (and their share
of the month's articles) as lines, each searched as the articles table's
search box searches; .csv and .json give the same series."""

import csv
import io
from urllib.parse import urlencode

from datasette.utils.asgi import BadRequest, NotFound, Response

from hkcnews.compat import ensure_can_view_table
from hkcnews.months import all_month_counts, month_counts
from hkcnews.ours import ARTICLES, built_by_us
from hkcnews.site.charts import either_chart, month_index, month_name, trend_chart_svg
from hkcnews.site.search_syntax import HELP_PATH, problem_message
from hkcnews.terms import QuerySyntaxError, check_query, check_sql

MAX_TERMS = 5
EXAMPLE = ("國安法", "23條", "初選")
# escape_fts is the archive's query function on its connections (the
# plugin's prepare_connection), the one the table's search box uses.
# A NEAR search's candidates are then checked exactly (terms.check_sql).
MATCHING = (
    f"select date from {ARTICLES} where rowid in "
    f"(select rowid from {ARTICLES}_fts where {ARTICLES}_fts match escape_fts(:q)) and {check_sql('q', ARTICLES)}"
)


class BadTerms(ValueError):
    pass


def requested_terms(args):
    """The distinct non-empty ?q= terms in the order given."""
    terms = list(dict.fromkeys(t.strip() for t in args.getlist("q") if t.strip()))
    if len(terms) > MAX_TERMS:
        raise BadTerms(f"q: at most {MAX_TERMS} terms, not {len(terms)}")
    return terms


async def trend_rows(db, terms):
    """One row per month from the archive's first month to its last:
    {"month", "all_articles", "terms": {term: {"articles", "share"}}}."""
    totals = await all_month_counts(db)
    if not totals:
        return []
    counts = {term: dict(await month_counts(db, MATCHING, {"q": term})) for term in terms}
    first, last = month_index(min(totals)), month_index(max(totals))
    rows = []
    for index in range(first, last + 1):
        month = month_name(index)
        total = totals.get(month, 0)
        rows.append(
            {
                "month": month,
                "all_articles": total,
                "terms": {
                    term: {
                        "articles": (n := counts[term].get(month, 0)),
                        "share": round(n / total, 6) if total else 0.0,
                    }
                    for term in terms
                },
            }
        )
    return rows


def as_csv(terms, rows):
    out = io.StringIO()
    writer = csv.writer(out)  # CRLF, as Datasette writes its CSV
    writer.writerow(["month", "all_articles", *(c for term in terms for c in (term, f"{term} share"))])
    for row in rows:
        values = [v for term in terms for v in (row["terms"][term]["articles"], row["terms"][term]["share"])]
        writer.writerow([row["month"], row["all_articles"], *values])
    return out.getvalue()


def trends_url(datasette, database, terms, extension=""):
    return f"{datasette.urls.database(database)}/-/trends{extension}?{urlencode([('q', t) for t in terms])}"


async def trends(datasette, request):
    database = request.url_vars["database"]
    if database not in datasette.databases or not await built_by_us(datasette, database):
        raise NotFound(f"Database not found: {database}")
    await ensure_can_view_table(datasette, request.actor, database, ARTICLES)
    extension = request.url_vars.get("format") or ""
    try:
        terms = requested_terms(request.args)
    except BadTerms as e:
        return _error(extension, str(e))
    if extension and not terms:
        return _error(extension, "q: give one term or more, as ?q=國安法&q=23條")
    for term in terms:
        try:
            check_query(term)
        except QuerySyntaxError as e:
            # The page with its form, to mend the term in; 400 in every form.
            message = problem_message(e, datasette.urls.database(database) + HELP_PATH)
            if extension:
                return _error(extension, message)
            return await _page(datasette, request, database, terms, [], error=message)
    rows = await trend_rows(datasette.get_database(database), terms)
    if extension == ".json":
        return Response.json({"database": database, "terms": terms, "rows": rows})
    if extension == ".csv":
        return Response(as_csv(terms, rows), content_type="text/csv; charset=utf-8")
    return await _page(datasette, request, database, terms, rows)


async def _page(datasette, request, database, terms, rows, error=None):
    table_url = datasette.urls.table(database, ARTICLES)

    def search_url(term, month=None):
        return f"{table_url}?{urlencode({'_search': term, **({'date__startswith': month} if month else {})})}"

    series = [(t, [(r["month"], r["terms"][t]["articles"], r["terms"][t]["share"]) for r in rows]) for t in terms]
    chart = ""
    if terms and rows:
        chart = either_chart(
            "hkc-trends",
            [
                ("每月文章 Articles per month", trend_chart_svg(series, link=search_url)),
                ("佔每月文章比例 Share of each month's articles", trend_chart_svg(series, link=search_url, share=True)),
            ],
        )
    context = {
        "database": database,
        "terms": terms,
        "inputs": terms + [""] * (MAX_TERMS - len(terms)),
        "example": EXAMPLE,
        "example_url": trends_url(datasette, database, EXAMPLE),
        "chart": chart,
        "totals": [
            {
                "term": t,
                "articles": sum(p[1] for p in points),
                "url": search_url(t),
                "concordance_url": f"{datasette.urls.database(database)}/-/concordance?{urlencode({'q': t})}",
            }
            for t, points in series
        ],
        "csv_url": trends_url(datasette, database, terms, ".csv"),
        "json_url": trends_url(datasette, database, terms, ".json"),
        "error": error,
        "search_help_url": datasette.urls.database(database) + HELP_PATH,
    }
    page = await datasette.render_template("hkc_trends.html", context, request=request)
    return Response.html(page, status=400 if error else 200)


def _error(extension, message):
    if extension == ".json":
        return Response.json({"ok": False, "error": message}, status=400)
    if extension == ".csv":
        return Response.text(f"{message}\n", status=400)
    raise BadRequest(message)  # Datasette's error page
