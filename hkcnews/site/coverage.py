"""Coverage over time: how many of the articles a search or filter matches
were published each month, as a facet of the articles table (type month,
configured in metadata.yml) that the table page draws as a chart and the
JSON gives as counts. Each month links to the same search narrowed to it,
and carries the month's share of all articles published then, to show
attention as Media Cloud's Explorer does."""

import html
from urllib.parse import parse_qsl, urlencode

from datasette.database import QueryInterrupted
from datasette.facets import Facet
from datasette.utils import path_with_removed_args

from hkcnews.months import all_month_counts, shares
from hkcnews.ours import ARTICLES, built_by_us
from hkcnews.site.cache import do_not_keep
from hkcnews.site.charts import either_chart, month_chart_svg
from hkcnews.site.facets import facet_column, narrowed, page_months

DATE_COLUMN = "date"
# Datasette's own filter: the bar of June 2021 adds ?date__startswith=2021-06.
MONTH_FILTER = f"{DATE_COLUMN}__startswith"
# Lower than the home page's chart: the first rows of the table must stay
# on the first screen.
CHART_HEIGHT = 100


class MonthFacet(Facet):
    type = "month"

    async def suggest(self):
        return []

    async def facet_results(self):
        configs = [c for c in self.get_configs() if facet_column(c) == DATE_COLUMN]
        if not configs or self.table != ARTICLES or not await built_by_us(self.ds, self.database):
            return [], []
        # Only a narrowed table: the home page has every article's chart.
        # Not past the first page either, where Datasette's facets count
        # from the page's first row on, and a chart would show part of it.
        if not narrowed(self.sql) or "_next" in self.request.args:
            return [], []
        try:
            counts = await page_months(self)
        except QueryInterrupted:
            do_not_keep(self.request)
            return [], [DATE_COLUMN]
        totals = await all_month_counts(self.ds.get_database(self.database))
        month_shares = shares(counts, totals)
        selected = self.request.args.get(MONTH_FILTER)
        # One URL per month, built here: Datasette's path_with_added_args
        # parses the query string again for each, 7 ms of a page's 60 bars.
        others = [(k, v) for k, v in parse_qsl(self.request.query_string, keep_blank_values=True) if k != MONTH_FILTER]
        base = self.ds.absolute_url(self.request, self.request.path)

        def toggle_url(month):
            return f"{base}?{urlencode(others if month == selected else [*others, (MONTH_FILTER, month)])}"

        results = [
            {
                "value": month,
                "label": month,
                "count": n,
                "month_total": totals.get(month, 0),
                "share": month_shares[month],
                "toggle_url": toggle_url(month),
                "selected": month == selected,
            }
            for month, n in counts
        ]
        facet = {
            "name": DATE_COLUMN,
            "type": self.type,
            "results": results,
            "hideable": configs[0]["source"] != "metadata",
            "toggle_url": self.ds.urls.path(path_with_removed_args(self.request, {"_facet_month": DATE_COLUMN})),
            "truncated": False,
        }
        return [facet], []


def coverage_chart(facet_info, trends_url=None):
    """The month facet as two bar charts, the matching articles per month
    and their share of each month's articles, the reader choosing which
    one shows; with a link to the trends page given ``trends_url``."""
    results = facet_info["results"]
    if not results:
        return ""
    counts = [(r["value"], r["count"]) for r in results]
    urls = {r["value"]: r["toggle_url"] for r in results}
    label = "Matching articles per month"
    by_count = month_chart_svg(counts, link=urls.get, label=label, height=CHART_HEIGHT)
    by_share = month_chart_svg(
        counts,
        link=urls.get,
        shares={r["value"]: r["share"] for r in results},
        label=f"{label}, as a share of all",
        height=CHART_HEIGHT,
    )
    more = (
        f'<p><a class="hkc-trends-link" href="{html.escape(trends_url)}">Compare with other terms</a></p>'
        if trends_url
        else ""
    )
    return either_chart(
        "hkc-coverage", [("Articles per month", by_count), ("Share of each month's articles", by_share)], more
    )
