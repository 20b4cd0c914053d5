"""What the browser shows of an article, a picture and the archive: Markdown
rendered to sanitised HTML, and links that stay safe."""

import html
import re
from urllib.parse import urlencode

import markdown
import nh3

from hkcnews.terms import without_headline, without_placeholder

ARCHIVE_HOST = "https://web.archive.org"

# Everything an article body uses, nothing that runs: no script, style,
# iframe, form or event attribute survives, whatever an article contains.
ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "figcaption",
    "figure",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "small",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
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


_CAPTION = re.compile(r"(<figcaption\b[^>]*>)(.*?)(</figcaption>)", re.S | re.I)


def article_html(body):
    """An article's Markdown body as HTML safe to put in a page: figures with
    their captions, tables, block quotes and links, archive-relative links
    made absolute, pictures loaded lazily, and nothing that can run."""
    text = _VIDEO.sub(_video_link, without_headline(body))
    text = _CAPTION.sub(lambda m: m.group(1) + without_placeholder(m.group(2)).strip() + m.group(3), text)
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
