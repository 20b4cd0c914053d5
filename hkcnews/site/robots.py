"""/robots.txt."""

from datasette.utils.asgi import Response

# Article, author and tag pages are worth a search engine's time; the
# endless combinations of searches, facets, sorts, SQL and exports behind a
# "?" or an extension are not, and on the whole archive they are what would
# load a public instance.
ROBOTS_TXT = """User-agent: *
Disallow: /*?
Disallow: /*.json
Disallow: /*.csv
Disallow: /*.atom
Disallow: /-/
"""


def robots_txt():
    return Response.text(ROBOTS_TXT)
