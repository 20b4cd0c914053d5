"""What keeps the articles table page fast on the whole archive, with
Datasette's own URLs: a tag facet, a tag filter, broad searches, and no
suggested facets on the archive's tables.

Datasette's array facet counts ``select distinct j.value, inner.*`` over
json_each of every row, which drags each row's whole body through the
de-duplication (datasette PR #2008) and times out on the full archive. The
build already stores tags as rows (article_tags) and their counts (tags.
article_count), so this facet answers from those: stored counts for the
unfiltered table, an indexed join for a filtered one. Same URLs, same
output; any other array column falls through to Datasette's own facet.
(The tag filter's indexed twin and the search in date order are
filters.py.)
"""

import asyncio
import copy
import re
import weakref
from collections import Counter

from datasette.database import QueryInterrupted
from datasette.facets import ArrayFacet, ColumnFacet, DateFacet
from datasette.utils import path_with_added_args, path_with_removed_args

from hkcnews.internals import CountedColumn
from hkcnews.months import all_month_counts, request_month_counts, request_state
from hkcnews.ours import ARTICLES, built_by_us
from hkcnews.site.cache import do_not_keep
from hkcnews.site.hits import COUNTED, request_hits

TAGS_COLUMN, YEAR_COLUMN = "tags", "year"
_WHERE = re.compile(r"\bwhere\b", re.I)

_ARTICLE_COUNTS = weakref.WeakKeyDictionary()
# A search in a third of the articles or more counts tags from the most
# common down (TagsFacet._common_tag_counts); fewer hits are cheaper to
# count one by one. Either way the counts are exact.
BROAD_SHARE = 1 / 3
COMMON_TAGS_BATCH = 32  # tags counted in the first round at least
FIRST_ROUND_MARGIN = 0.8


async def _article_count(datasette, database):
    # Asked once per database: only the choice of method depends on it, so
    # a file changed while served costs speed, never a wrong count.
    db = datasette.get_database(database)
    if db not in _ARTICLE_COUNTS:
        _ARTICLE_COUNTS[db] = (await db.execute(f"select count(*) from {ARTICLES}")).single_value()
    return _ARTICLE_COUNTS[db]


class NoSuggestions:
    """Datasette's default settings suggest facets on every table page by
    running a query per column over the rows shown, the body included: about
    900 ms of each articles page on 58,000 articles. The archive's useful
    facets are configured in metadata.yml, and its other columns are unique
    or free text, so its tables suggest none, however they are served."""

    async def suggest(self):
        if await built_by_us(self.ds, self.database):
            return []
        return await super().suggest()


class OwnCounts:
    """A facet class that counts one column of the archive's articles table
    itself (``column``, with ``own_counts(config)``), and leaves every other
    column and table to the Datasette class it is mixed into, whose
    facet_results reads its configurations through get_configs
    (tests/test_internals.py checks that it does).

    On the archive's table the configurations of a search or filter count
    from its hits, read once for the page (hkcnews/site/hits.py): the
    category and author facets are Datasette's own, answered with those
    counts. Otherwise (more hits than hits.py keeps) each configuration is
    counted on its own and all of them side by side: Datasette's class
    counts its columns one after another (and Datasette 1.0 its facet
    classes too), while SQLite can use every core."""

    column = None
    # The configurations an instance counts, when not all of them.
    _only = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request_state(self.request).setdefault("facets", []).append(self)

    def get_configs(self):
        configs = super().get_configs()
        return configs if self._only is None else [c for c in configs if c in self._only]

    async def facet_results(self):
        if not await built_by_us(self.ds, self.database):
            # Other databases: Datasette's facets, run as Datasette runs them.
            return await super().facet_results()
        # The first of a page's facets starts them all, so that they run
        # side by side however Datasette awaits them (1.0 awaits one after
        # the other); each then waits for its own.
        state = request_state(self.request)
        started = state.setdefault("started", {})
        if not started:
            for facet in state.get("facets", []):
                started[facet] = asyncio.ensure_future(facet._results())
        if self not in started:
            started[self] = asyncio.ensure_future(self._results())
        return await started[self]

    async def _results(self):
        configs = self.get_configs()
        if self.table != ARTICLES or not configs:
            results, timed_out = await super().facet_results()
        else:
            parts = await asyncio.gather(
                *(self._own(c) if facet_column(c) == self.column else self._other(c) for c in configs)
            )
            results = [r for part, _ in parts for r in part]
            timed_out = [t for _, part in parts for t in part]
        if timed_out:
            do_not_keep(self.request)
        return results, timed_out

    async def _own(self, config):
        try:
            return [await self.own_counts(config)], []
        except QueryInterrupted:
            return [], [self.column]

    async def _other(self, config):
        """A configuration of another column: Datasette's facet, given the
        column's counts from the page's hits where they are counted."""
        column = facet_column(config)
        if column in COUNTED and narrowed(self.sql):
            try:
                hits = await request_hits(self)
            except QueryInterrupted:
                return [], [column]
            counts = hits.counts(column, self.get_facet_size() + 1) if hits is not None else None
            if counts is not None:
                facet = self._alone(config)
                facet.ds = CountedColumn(self.ds, column, counts)
                return await facet._stock()
        return await self._alone(config)._stock()

    def _alone(self, config):
        facet = copy.copy(self)
        facet._only = [config]
        return facet

    async def _stock(self):
        return await super().facet_results()


def facet_column(config):
    """The column a facet configuration names, in either of its forms."""
    return config["config"].get("column") or config["config"]["simple"]


def narrowed(sql):
    """Whether a facet's SQL (the table page's rows) has a search or filter."""
    return bool(_WHERE.search(sql))


async def page_months(facet):
    """[(YYYY-MM, articles), …] of the rows a facet counts: counted once
    per request for a search or filter (the month facet draws them, the
    year facet sums them), every article's otherwise."""
    db = facet.ds.get_database(facet.database)
    if not narrowed(facet.sql):
        return list((await all_month_counts(db)).items())
    if facet.table == ARTICLES:
        hits = await request_hits(facet)
        months = hits.months() if hits is not None else None
        if months is not None:
            return months
    return await request_month_counts(
        facet.request, db, facet.sql, facet.params, facet.ds.setting("facet_time_limit_ms")
    )


class YearsFromMonths(OwnCounts, NoSuggestions, ColumnFacet):
    """The year facet of the articles table, summed from the articles per
    month that the page's chart counts (hkcnews/site/coverage.py): one query
    for both, where the year facet alone cost as much as the chart.
    Every other column facet is Datasette's own."""

    column = YEAR_COLUMN

    async def own_counts(self, config):
        years = Counter()
        for month, n in await page_months(self):
            years[int(month[:4])] += n
        # Datasette's order: count desc, value.
        rows = sorted(years.items(), key=lambda pair: (-pair[1], pair[0]))
        size = self.get_facet_size()
        pairs = self.get_querystring_pairs()
        values = []
        for year, count in rows[:size]:
            selected = (YEAR_COLUMN, str(year)) in pairs
            toggle = (
                path_with_removed_args(self.request, {YEAR_COLUMN: str(year)})
                if selected
                else path_with_added_args(self.request, {YEAR_COLUMN: year})
            )
            values.append(
                {
                    "value": year,
                    "label": year,
                    "count": count,
                    "toggle_url": self.ds.absolute_url(self.request, self.ds.urls.path(toggle)),
                    "selected": selected,
                }
            )
        return {
            "name": YEAR_COLUMN,
            "type": self.type,
            "hideable": config["source"] != "metadata",
            "toggle_url": self.ds.urls.path(path_with_removed_args(self.request, {"_facet": YEAR_COLUMN})),
            "results": values,
            "truncated": len(rows) > size,
        }


class QuietDateFacet(NoSuggestions, DateFacet):
    pass


class TagsFacet(OwnCounts, NoSuggestions, ArrayFacet):
    column = TAGS_COLUMN

    async def own_counts(self, config):
        return await self._tag_counts(config)

    async def _tag_counts(self, config):
        facet_size = self.get_facet_size()
        if not narrowed(self.sql):
            rows = await self._execute(
                f"""
                select name as value, article_count as count from tags
                where article_count > 0
                order by article_count desc, name
                limit {facet_size + 1}
                """,
                {},
            )
        elif (counted := await self._counted_from_hits(facet_size + 1)) is not None:
            rows = counted
        elif (share := await self._share()) >= BROAD_SHARE:
            rows = await self._common_tag_counts(facet_size + 1, share)
        else:
            # Hits first (cross join keeps that order), then their tags by
            # the primary key; the names are joined after counting, so the
            # GROUP BY sorts bare integers. On 100,000 articles and a search
            # with 86,000 hits: 63 ms, where `article_id in (…)` with the
            # names in the grouping took 90 ms.
            rows = await self._execute(
                f"""
                select tags.name as value, counts.count as count
                from (
                    select article_tags.tag_id, count(*) as count
                    from (select id from ({self.sql})) hits
                    cross join article_tags on article_tags.article_id = hits.id
                    group by article_tags.tag_id
                ) counts
                join tags on tags.id = counts.tag_id
                order by count desc, value
                limit {facet_size + 1}
                """,
                self.params,
            )
        return self._facet(config, rows[:facet_size], truncated=len(rows) > facet_size)

    async def _counted_from_hits(self, limit):
        """The ``limit`` tags with most hits among the page's (hkcnews/site/hits.py), or None."""
        hits = await request_hits(self)
        return hits.counts(TAGS_COLUMN, limit) if hits is not None else None

    async def _execute(self, sql, params):
        results = await self.ds.execute(
            self.database,
            sql,
            params,
            truncate=False,
            custom_time_limit=self.ds.setting("facet_time_limit_ms"),
        )
        return [(row["value"], row["count"]) for row in results.rows]

    async def _share(self):
        """The rows shown as a share of all articles (0 when not counted)."""
        if self.row_count is None:
            return 0
        return self.row_count / max(1, await _article_count(self.ds, self.database))

    async def _common_tag_counts(self, wanted, share):
        """The ``wanted`` most frequent tags among the hits of a broad search,
        found by counting the hits of the archive's most common tags first.

        A tag has at most as many hits as articles (tags.article_count), so
        once the next uncounted tag's article_count is below the count of
        the wanted-th tag found, no other tag can enter the list. For a
        search in most articles the list is settled within the first few
        hundred tags, and the page reads those tags' rows in article_tags
        instead of every tag row of every hit: on 58,000 articles and a
        search with 56,000 hits, 105 ms down to 53 ms. Each tag's rows
        are read from the (tag_id, article_id) index and looked up in the
        hits, which SQLite keeps as one temporary index.

        Each round costs the hits' temporary index again, so the first
        round takes every tag likely to be needed: those with at least
        ``share`` (the hits' share of all articles) of the article_count of
        the wanted-th tag, less a margin for tags the hits favour less.
        """
        estimate = await self.ds.execute(
            self.database,
            "select count(*) from tags where article_count >= :margin * :share * coalesce("
            "(select article_count from tags order by article_count desc limit 1 offset :wanted - 1), 0)",
            {"margin": FIRST_ROUND_MARGIN, "share": share, "wanted": wanted},
        )
        counts, offset = [], 0
        batch = max(COMMON_TAGS_BATCH, estimate.single_value())
        while True:
            rows = await self._execute(
                f"""
                select tags.name as value, count(*) as count
                from (
                    select id, name from tags where article_count > 0
                    order by article_count desc, id limit {batch} offset {offset}
                ) tags
                cross join article_tags on article_tags.tag_id = tags.id
                where +article_tags.article_id in (select id from ({self.sql}))
                group by tags.id
                """,
                self.params,
            )
            counts += rows
            offset += batch
            batch *= 2
            bound = await self.ds.execute(
                self.database,
                "select article_count from tags where article_count > 0 "
                f"order by article_count desc, id limit 1 offset {offset}",
            )
            counts.sort(key=lambda pair: (-pair[1], pair[0]))
            settled = len(counts) >= wanted and counts[wanted - 1][1] > (bound.first() or [0])[0]
            if settled or not bound.rows:
                return counts[:wanted]

    def _facet(self, config, rows, truncated):
        pairs = self.get_querystring_pairs()
        values = []
        for value, count in rows:
            value = str(value)
            arg = {f"{TAGS_COLUMN}__arraycontains": value}
            selected = (f"{TAGS_COLUMN}__arraycontains", value) in pairs
            toggle = path_with_removed_args(self.request, arg) if selected else path_with_added_args(self.request, arg)
            values.append(
                {
                    "value": value,
                    "label": value,
                    "count": count,
                    "toggle_url": self.ds.absolute_url(self.request, toggle),
                    "selected": selected,
                }
            )
        return {
            "name": TAGS_COLUMN,
            "type": self.type,
            "results": values,
            "hideable": config["source"] != "metadata",
            "toggle_url": self.ds.urls.path(path_with_removed_args(self.request, {"_facet_array": TAGS_COLUMN})),
            "truncated": truncated,
        }


# What the plugin registers in place of Datasette's own facet classes.
ARCHIVE_FACETS = {ColumnFacet: YearsFromMonths, DateFacet: QuietDateFacet, ArrayFacet: TagsFacet}
