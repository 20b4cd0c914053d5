"""The ASGI middleware the plugin wraps Datasette in, in order."""

from hkcnews.site.address import PublicAddress
from hkcnews.site.cache import PageCache
from hkcnews.site.compression import Compression
from hkcnews.site.database_file import DatabaseFile
from hkcnews.site.download_queue import DownloadQueue
from hkcnews.site.downloads import CompleteCsv
from hkcnews.site.query_status import QueryErrorStatus
from hkcnews.site.search_syntax import SearchSyntax
from hkcnews.site.security import SecurityHeaders
from hkcnews.site.snippets import SnippetColumn

# Outermost first: headers for a public site; the configured address,
# before anything reads the Host; the database file, never compressed; a
# search that does not parse, answered 400 before any of it runs; the
# page cache, which keeps pages once compressed; gzip; downloads in turn;
# a search's snippet column in the articles table's CSV and JSON;
# a page is kept only once it is complete, so the cache wraps that check;
# a failed query's page gets its 400 before the cache sees it (1.0).
WRAPPERS = (
    SecurityHeaders,
    PublicAddress,
    DatabaseFile,
    SearchSyntax,
    PageCache,
    Compression,
    DownloadQueue,
    SnippetColumn,
    CompleteCsv,
    QueryErrorStatus,
)


def wrapped(app, datasette):
    """Datasette's app inside every wrapper of WRAPPERS."""
    for wrapper in reversed(WRAPPERS):
        app = wrapper(app, datasette)
    return app
