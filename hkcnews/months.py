"""Articles per month: the one query behind the home page's chart, the
coverage chart of a search or filter, the trends page and the canned query
articles_per_month."""
import weakref

# Months of every article, counted once per immutable database.
_ALL_MONTHS = weakref.WeakKeyDictionary()


def month_counts_sql(rows_sql=None):
    """SQL for (month, articles) pairs in month order, month as YYYY-MM,
    over the articles ``rows_sql`` selects (every article without it).
    Articles without a date are left out: they belong to no month."""
    source = f"({rows_sql})" if rows_sql else "articles"
    return (
        "select substr(date, 1, 7) as month, count(*) as articles "
        f"from {source} where date is not null group by month order by month"
    )


# The canned query: every article, or those of one category.
ARTICLES_PER_MONTH_SQL = month_counts_sql("select date from articles where :category = '' or category = :category")


async def month_counts(db, rows_sql=None, params=None, time_limit_ms=None):
    """[(YYYY-MM, articles), …] in month order; see month_counts_sql."""
    results = await db.execute(month_counts_sql(rows_sql), params or {}, custom_time_limit=time_limit_ms)
    return [(month, n) for month, n in results.rows]


async def all_month_counts(db):
    """month_counts of every article, as a dict, counted once for a file
    that cannot change."""
    if db in _ALL_MONTHS:
        return _ALL_MONTHS[db]
    counts = dict(await month_counts(db))
    if not db.is_mutable:
        _ALL_MONTHS[db] = counts
    return counts


def shares(counts, totals):
    """{month: share of that month's articles} for [(month, n), …]."""
    return {month: n / totals[month] if totals.get(month) else 0.0 for month, n in counts}
