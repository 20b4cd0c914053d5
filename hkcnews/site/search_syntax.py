"""A search that does not parse is answered 400 with what is wrong with it.

Every search of an archive reads hkcnews/terms.py's query language, and
each runs its query through escape_fts inside SQLite, where an error can
only become an SQL error (a 500 on some pages, an empty result on others).
So this middleware reads the query before Datasette does: a table's
?_search= (its page, .json, .csv, .jsonl; not ?_searchmode=raw, which is
FTS5's own syntax), the canned search's ?q= and datasette-search-all's
/-/search?q=, and answers one that does not parse (``國安法 OR``,
``"unclosed``, ``-台灣`` alone) with status 400 and the message, in the
form asked for (hkcnews/site/refusals.py): Datasette's error page naming
the problem and linking the search help, JSON, or text for CSV. The trends
page checks its terms itself (hkcnews/site/trends.py).
"""

from datasette.utils import tilde_decode
from datasette.utils.asgi import Request

from hkcnews.ours import archive_in_path, built_by_us
from hkcnews.site.refusals import refusal
from hkcnews.terms import QuerySyntaxError, check_query

# The canned queries of metadata.yml that search, and their parameter
# (tests/test_search_syntax.py checks that every escape_fts(:…) is here).
SEARCH_QUERIES = {"search": "q"}
SUFFIXES = (".json", ".csv", ".jsonl")
HELP_PATH = "/-/search-help"


def problem_message(error, help_url):
    """The message of a 400 for a query that does not parse."""
    return f"Search: {error}. How to search: {help_url}"


def searched_queries(name, args):
    """The search queries a request for /<database>/<name> (a table or a
    canned query, with its extension) carries."""
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    if name in SEARCH_QUERIES:
        return args.getlist(SEARCH_QUERIES[name])
    if args.get("_searchmode") == "raw":
        return []
    return table_searches(args)


def table_searches(args):
    """The values of a table request's ?_search= and column searches
    (?_search_title=…), in order."""
    return [value for key in args for value in args.getlist(key) if key == "_search" or key.startswith("_search_")]


class SearchSyntax:
    """ASGI middleware: a 400 naming the problem for an archive search that does not parse."""

    def __init__(self, app, datasette):
        self.app = app
        self.datasette = datasette

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and b"" != scope.get("query_string", b""):
            message = await self.problem(scope)
            if message is not None:
                # Before Datasette's own router, which starts it on the first request.
                await self.datasette.invoke_startup()
                # Outside asgi-csrf, whose token the page template reads;
                # the error page has no form to send.
                request = Request({**scope, "csrftoken": lambda: ""}, receive)
                response = await refusal(self.datasette, request, message)()
                return await response.asgi_send(send)
        return await self.app(scope, receive, send)

    async def problem(self, scope):
        path = scope["path"]
        parts = path.strip("/").split("/")
        args = Request(scope, None).args
        if parts == ["-", "search"]:
            database = await self._first_archive()
            queries = args.getlist("q") if database else []
        elif len(parts) == 2 and parts[0] != "-" and await archive_in_path(self.datasette, path):
            database = tilde_decode(parts[0].split(".")[0])
            queries = searched_queries(tilde_decode(parts[1]), args)
        else:
            return None
        for query in queries:
            try:
                check_query(query)
            except QuerySyntaxError as e:
                return problem_message(e, self.datasette.urls.database(database) + HELP_PATH)
        return None

    async def _first_archive(self):
        for name in self.datasette.databases:
            if await built_by_us(self.datasette, name):
                return name
        return None
