"""The archive by calendar day: /<database>/-/day/2021-06-24 lists that
day's articles with their first lines, the nearest days before and after
that have articles and the same day in other years; /<database>/-/on-this-day
lists today's month and day (or ?date=MM-DD) in every year, newest first.
Both as a page and as .json."""

import datetime as dt
import json
import re
from urllib.parse import urlencode

from datasette.utils.asgi import BadRequest, NotFound, Response

from hkcnews.compat import ensure_can_view_table
from hkcnews.ours import ARTICLES, built_by_us
from hkcnews.site.cache import do_not_keep
from hkcnews.site.excerpts import plain_text
from hkcnews.site.safe_html import tag_url

FIRST_LINES = 120
# The first lines need only the start of a body; a whole day's bodies, or a
# date's in every year, would be read for a few lines each.
BODY_START = 3000
# The archive's dates have no time of day (the build keeps YYYY-MM-DD
# only), so a day's articles are in number order after their date: the CMS
# numbered articles as they were created, the nearest to the order they
# were published in that the archive holds.
ARTICLE_COLUMNS = f"id, title, date, author, category, tags, substr(body, 1, {BODY_START}) as body_start"
IN_DATE_ORDER = "order by date, id"

WEEKDAYS = (
    ("星期一", "Monday"),
    ("星期二", "Tuesday"),
    ("星期三", "Wednesday"),
    ("星期四", "Thursday"),
    ("星期五", "Friday"),
    ("星期六", "Saturday"),
    ("星期日", "Sunday"),
)
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH_DAY = re.compile(r"^\d{2}-\d{2}$")
# A leap year, so that 02-29 is a month and day like any other.
_LEAP_YEAR = 2000


class BadDate(ValueError):
    pass


def parse_day(value):
    """A date from YYYY-MM-DD, or BadDate naming the parameter and value."""
    # The pattern first: fromisoformat also takes 20210624 and 2021-W25-4.
    try:
        if _DAY.match(value):
            return dt.date.fromisoformat(value)
    except ValueError:
        pass
    raise BadDate(f"day: {value!r} is not a date (YYYY-MM-DD, as 2021-06-24)")


def parse_month_day(value):
    """(month, day) from MM-DD, 02-29 included, or BadDate naming ``date``."""
    try:
        if _MONTH_DAY.match(value):
            date = dt.date(_LEAP_YEAR, int(value[:2]), int(value[3:]))
            return date.month, date.day
    except ValueError:
        pass
    raise BadDate(f"date: {value!r} is not a month and day (MM-DD, as 06-24)")


def today_month_day():
    """Today's month and day in UTC, asked at each request."""
    today = dt.datetime.now(dt.timezone.utc).date()
    return today.month, today.day


def day_url(datasette, database, day, extension=""):
    return f"{datasette.urls.database(database)}/-/day/{day}{extension}"


def on_this_day_url(datasette, database, month_day=None, extension=""):
    query = f"?{urlencode({'date': month_day})}" if month_day else ""
    return f"{datasette.urls.database(database)}/-/on-this-day{extension}{query}"


def first_lines(body):
    text = plain_text(body or "")
    return text if len(text) <= FIRST_LINES else text[:FIRST_LINES].rstrip() + "…"


def _article(row, table_url):
    tags = json.loads(row["tags"] or "[]")
    return {
        "id": row["id"],
        "title": row["title"],
        "date": row["date"],
        "author": row["author"],
        "category": row["category"],
        "tags": tags,
        "first_lines": first_lines(row["body_start"]),
        "url": f"{table_url}/{row['id']}",
        "author_url": f"{table_url}?{urlencode({'author': row['author']})}" if row["author"] else None,
        "category_url": f"{table_url}?{urlencode({'category': row['category']})}" if row["category"] else None,
        "tag_urls": [{"name": t, "url": tag_url(table_url, t)} for t in tags],
    }


def _json_article(article):
    keys = ("id", "title", "date", "author", "category", "tags", "first_lines", "url")
    return {k: article[k] for k in keys}


async def _same_day_in_years(db, month, day, first_year, last_year):
    """{date: article count} of month-day in each year of the archive that
    has articles on it. The dates are spelled out, so that the date index
    answers, not a scan of every article."""
    dates = []
    for year in range(first_year, last_year + 1):
        try:
            dates.append(dt.date(year, month, day).isoformat())
        except ValueError:  # 02-29 of a year that has none
            continue
    if not dates:
        return {}
    marks = ", ".join("?" * len(dates))
    rows = await db.execute(
        f"select date, count(*) from {ARTICLES} where date in ({marks}) group by date order by date", dates
    )
    return {date: n for date, n in rows}


async def _years(db):
    first, last = (await db.execute(f"select min(date), max(date) from {ARTICLES}")).first()
    return (int(first[:4]), int(last[:4])) if first else None


async def _archive(datasette, request):
    database = request.url_vars["database"]
    if database not in datasette.databases or not await built_by_us(datasette, database):
        raise NotFound(f"Database not found: {database}")
    await ensure_can_view_table(datasette, request.actor, database, ARTICLES)
    return database, datasette.get_database(database), str(datasette.urls.table(database, ARTICLES))


async def day(datasette, request):
    database, db, table_url = await _archive(datasette, request)
    extension = request.url_vars.get("format") or ""
    try:
        date = parse_day(request.url_vars["day"])
    except BadDate as e:
        return _error(extension, str(e))
    iso = date.isoformat()
    rows = await db.execute(f"select {ARTICLE_COLUMNS} from {ARTICLES} where date = ? {IN_DATE_ORDER}", [iso])
    articles = [_article(r, table_url) for r in rows]
    previous = (await db.execute(f"select max(date) from {ARTICLES} where date < ?", [iso])).single_value()
    following = (await db.execute(f"select min(date) from {ARTICLES} where date > ?", [iso])).single_value()
    years = await _years(db)
    same_day = await _same_day_in_years(db, date.month, date.day, *years) if years else {}
    other_years = [{"date": d, "articles": n} for d, n in same_day.items() if d != iso]
    if extension == ".json":
        return Response.json(
            {
                "database": database,
                "day": iso,
                "previous": previous,
                "next": following,
                "other_years": other_years,
                "rows": [_json_article(a) for a in articles],
            }
        )
    link = {"previous": previous, "next": following}
    context = {
        "database": database,
        "day": iso,
        "weekday": WEEKDAYS[date.weekday()],
        "long_date": (f"{date.year}年{date.month}月{date.day}日", f"{MONTHS[date.month - 1]} {date.day}, {date.year}"),
        "articles": articles,
        "links": {k: v and {"date": v, "url": day_url(datasette, database, v)} for k, v in link.items()},
        "other_years": [{**o, "url": day_url(datasette, database, o["date"])} for o in other_years],
        "on_this_day_url": on_this_day_url(datasette, database, iso[5:]),
        "json_url": day_url(datasette, database, iso, ".json"),
    }
    return Response.html(await datasette.render_template("hkc_day.html", context, request=request))


async def on_this_day(datasette, request):
    database, db, table_url = await _archive(datasette, request)
    extension = request.url_vars.get("format") or ""
    asked = request.args.get("date")
    if asked is None:
        # Today's list, under one address every day: the page cache keys on
        # the address, and would serve yesterday's list after midnight.
        do_not_keep(request)
        month, day_of_month = today_month_day()
    else:
        try:
            month, day_of_month = parse_month_day(asked)
        except BadDate as e:
            return _error(extension, str(e))
    month_day = f"{month:02d}-{day_of_month:02d}"
    years = await _years(db)
    dates = list(await _same_day_in_years(db, month, day_of_month, *years)) if years else []
    groups = {}
    if dates:
        marks = ", ".join("?" * len(dates))
        rows = await db.execute(
            f"select {ARTICLE_COLUMNS} from {ARTICLES} where date in ({marks}) {IN_DATE_ORDER}", dates
        )
        for row in rows:
            groups.setdefault(row["date"], []).append(_article(row, table_url))
    # Newest year first; within a year, the day's own order.
    by_year = [
        {"year": int(date[:4]), "date": date, "url": day_url(datasette, database, date), "articles": groups[date]}
        for date in sorted(groups, reverse=True)
    ]
    if extension == ".json":
        return Response.json(
            {
                "database": database,
                "date": month_day,
                "years": [
                    {"year": g["year"], "date": g["date"], "rows": [_json_article(a) for a in g["articles"]]}
                    for g in by_year
                ],
            }
        )
    this = dt.date(_LEAP_YEAR, month, day_of_month)
    step = dt.timedelta(days=1)
    context = {
        "database": database,
        "month_day": month_day,
        "today": asked is None,
        "long_date": (f"{month}月{day_of_month}日", f"{MONTHS[month - 1]} {day_of_month}"),
        "years": by_year,
        "count": sum(len(g["articles"]) for g in by_year),
        "previous_url": on_this_day_url(datasette, database, (this - step).strftime("%m-%d")),
        "next_url": on_this_day_url(datasette, database, (this + step).strftime("%m-%d")),
        "json_url": on_this_day_url(datasette, database, month_day, ".json"),
    }
    return Response.html(await datasette.render_template("hkc_on_this_day.html", context, request=request))


def _error(extension, message):
    if extension == ".json":
        return Response.json({"ok": False, "error": message}, status=400)
    raise BadRequest(message)  # Datasette's error page
