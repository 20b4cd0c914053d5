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
from hkcnews.site.validators import PageVerdict, Validators
from hkcnews.site.whole_downloads import WholeDownloads

# Outermost first: headers for a public site; the configured address,
# before anything reads the Host; the database file, never compressed;
# validators, whose 304 is answered before anything below runs (the page
# cache included) yet gets the public headers, and whose ETag names the
# configured address; a search that does not parse, answered 400 before
# any of it runs; the page cache, which keeps pages once compressed; just
# inside it, the page cache's do_not_keep mark handed to the validators;
# downloads in turn; a table's whole result, read once and gzipped by its
# own process; gzip; a search's snippet column in the articles table's CSV
# and JSON;
# a page is kept only once it is complete, so the cache wraps that check;
# a failed query's page gets its 400 before the cache sees it (1.0).
WRAPPERS = (
    SecurityHeaders,
    PublicAddress,
    DatabaseFile,
    Validators,
    SearchSyntax,
    PageCache,
    PageVerdict,
    DownloadQueue,
    WholeDownloads,
    Compression,
    SnippetColumn,
    CompleteCsv,
    QueryErrorStatus,
)


def wrapped(app, datasette):
    """Datasette's app inside every wrapper of WRAPPERS."""
    for wrapper in reversed(WRAPPERS):
        app = wrapper(app, datasette)
    return app
