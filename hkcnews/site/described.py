"""metadata.yml describes the archive under one database name (news); every
other database this bundle built is given the same description, facets and
canned queries, so any file name serves alike."""

import weakref

from hkcnews.internals import describe_like_the_archive
from hkcnews.months import ARTICLES_PER_MONTH_SQL
from hkcnews.ours import built_by_us

_DESCRIBED = weakref.WeakKeyDictionary()


async def describe(datasette):
    """At startup: every archive Datasette serves described as the archive."""
    names = [name for name in datasette.databases if await built_by_us(datasette, name)]
    _DESCRIBED[datasette] = await describe_like_the_archive(datasette, names)


def described_metadata(datasette):
    """What Datasette 0.65's get_metadata hook answers: the archive's metadata for every name."""
    return _DESCRIBED.get(datasette)


async def month_query(datasette, database):
    """Datasette 0.65's canned_queries answer: articles_per_month with hkcnews/months.py's SQL."""
    if not await built_by_us(datasette, database):
        return None
    described = (datasette.metadata("queries", database=database) or {}).get("articles_per_month") or {}
    return {"articles_per_month": {**described, "sql": ARTICLES_PER_MONTH_SQL}}
