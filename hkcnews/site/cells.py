"""The cells of the archive's table pages: titles that link to the article
page, tags that link to their articles, thumbnails of figures, marked
search excerpts. Other databases' cells stay Datasette's."""

import html
import json

from markupsafe import Markup

from hkcnews.ours import ARTICLES, built_by_us
from hkcnews.site.excerpts import safe_marked_html
from hkcnews.site.safe_html import tag_url, thumbnail_html


def render_cell(row, value, column, table, database, datasette):
    """The render_cell hook's answer: an awaitable, or None for a cell left to Datasette."""
    # A canned query's passage (search_excerpt ... as snippet, or as excerpt).
    excerpt_cell = column in ("snippet", "excerpt") and isinstance(value, str)
    if not excerpt_cell and ((table, column) not in _CELLS or value is None):
        return None

    async def inner():
        if not await built_by_us(datasette, database):
            return None
        if excerpt_cell:
            return Markup(safe_marked_html(value))
        return Markup(_CELLS[table, column](row, value, database, datasette))

    return inner


def _articles_url(datasette, database):
    # A plain str: Datasette's URL strings run Python code on every method
    # call, and these cells are built for every row of every page (the
    # urls.row() of each title was 8% of the server's time under load).
    return str(datasette.urls.table(database, ARTICLES))


def _title_cell(row, value, database, datasette):
    url = f"{_articles_url(datasette, database)}/{row['id']}"
    return f'<a href="{html.escape(url)}">{html.escape(str(value))}</a>'


def _tags_cell(row, value, database, datasette):
    table_url = _articles_url(datasette, database)
    return " · ".join(
        f'<a class="tag" href="{html.escape(tag_url(table_url, tag))}">{html.escape(tag)}</a>'
        for tag in json.loads(value)
    )


def _thumbnail_cell(row, value, database, datasette):
    return thumbnail_html(value, row["alt"]) or html.escape(str(value))


_CELLS = {
    (ARTICLES, "title"): _title_cell,
    (ARTICLES, "tags"): _tags_cell,
    ("figures", "image_url"): _thumbnail_cell,
}
