"""What the browser shows of an article, a picture and the archive: Markdown
rendered to sanitised HTML, links that stay safe, and a chart of articles per
month drawn on the server (an SVG needs no script to run)."""
import html
import re
from urllib.parse import urlencode

import markdown
import nh3

from .terms import without_headline

ARCHIVE_HOST = "https://web.archive.org"

# Everything an article body uses, nothing that runs: no script, style,
# iframe, form or event attribute survives, whatever an article contains.
ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "figcaption", "figure",
    "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s",
    "small", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead",
    "tr", "u", "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"align", "colspan", "rowspan"},
    "th": {"align", "colspan", "rowspan"},
}
SAFE_SCHEMES = {"http", "https", "mailto"}

# Hugo shortcodes for embedded videos, 449 in the real sample:
# {{< video src="//web.archive.org/web/…if_/https://www.youtube.com/embed/…" >}}
_VIDEO = re.compile(r'\{\{<\s*video\s+src="([^"]*)"\s*>\}\}')


def absolute_url(url):
    """An address the archive pages used, as one that works from here:
    /web/… and //host/… point to the archive's host; any scheme other than
    http(s) or mailto gives None."""
    url = (url or "").strip()
    if url.startswith("//"):
        url = "https:" + url
    elif url.startswith("/web/"):
        url = ARCHIVE_HOST + url
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme not in SAFE_SCHEMES:
        return None
    return url


def _keep_safe_urls(tag, attribute, value):
    if (tag, attribute) in {("a", "href"), ("img", "src")}:
        return absolute_url(value)
    return value


def _video_link(match):
    url = absolute_url(html.unescape(match.group(1)))
    return f'\n\n<p><a href="{html.escape(url)}">▶ 影片 Video</a></p>\n\n' if url else ""


def article_html(body):
    """An article's Markdown body as HTML safe to put in a page: figures with
    their captions, tables, block quotes and links, archive-relative links
    made absolute, pictures loaded lazily, and nothing that can run."""
    text = _VIDEO.sub(_video_link, without_headline(body))
    rendered = markdown.markdown(text, extensions=["tables"], output_format="html")
    return nh3.clean(
        rendered,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_keep_safe_urls,
        url_schemes=SAFE_SCHEMES,
        link_rel="nofollow noopener noreferrer",
        set_tag_attribute_values={"img": {"loading": "lazy"}},
    )


def thumbnail_html(image_url, alt=""):
    """A small lazy-loaded picture linking to the full one, or '' for an
    address that is not http(s)."""
    url = absolute_url(image_url)
    if not url or url.startswith("mailto:"):
        return ""
    url, alt = html.escape(url), html.escape(alt or "")
    return (
        f'<a href="{url}" title="{url}"><img src="{url}" alt="{alt}" loading="lazy" '
        f'style="max-width: 160px; max-height: 120px"></a>'
    )


def tag_url(table_url, tag):
    """The articles with a tag: the same address the tag facet links to."""
    return f"{table_url}?{urlencode({'tags__arraycontains': tag})}"


def month_chart_svg(counts, width=720, height=160):
    """Articles per month as an SVG bar chart, one <rect> per month that has
    articles, placed on a time axis that keeps the gaps. ``counts`` is
    [(YYYY-MM, n), …] in month order."""
    if not counts:
        return ""

    def index(month):
        year, mon = month.split("-")
        return int(year) * 12 + int(mon) - 1

    first, last = index(counts[0][0]), index(counts[-1][0])
    months = last - first + 1
    most = max(n for _, n in counts)
    top, bottom, left = 12, 20, 36
    plot_height = height - top - bottom
    step = (width - left) / months
    parts = [
        f'<svg class="articles-per-month" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" style="max-width: {width}px" xmlns="http://www.w3.org/2000/svg">',
        f"<title>Articles per month, {html.escape(counts[0][0])} to {html.escape(counts[-1][0])}</title>",
        f'<text x="{left - 4}" y="{top + 4}" font-size="10" text-anchor="end">{most:,}</text>',
        f'<text x="{left - 4}" y="{top + plot_height}" font-size="10" text-anchor="end">0</text>',
    ]
    for month, n in counts:
        bar = plot_height * n / most
        x = left + (index(month) - first) * step
        parts.append(
            f'<rect class="month" data-month="{html.escape(month)}" data-count="{n}" '
            f'x="{x:.1f}" y="{top + plot_height - bar:.1f}" width="{max(step - 1, 1):.1f}" '
            f'height="{bar:.1f}" fill="#4a6fa5"><title>{html.escape(month)}: {n:,}</title></rect>'
        )
    for year in range(int(counts[0][0][:4]), int(counts[-1][0][:4]) + 1):
        x = left + max(index(f"{year}-01") - first, 0) * step
        if x > width - 30:  # no room for the label of a year just begun
            break
        parts.append(f'<text x="{x:.1f}" y="{height - 4}" font-size="10">{year}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
