"""Pictures in an article body: ``<figure>`` blocks and Markdown images, with
their captions and the photo credit that usually ends a caption."""

import html
import re
from html.parser import HTMLParser

from hkcnews.terms import without_placeholder

# A figure runs to its </figure>, or, when that is missing, to the next
# <figure> or the end of the body, so an unclosed block loses nothing.
_FIGURE_OR_IMAGE = re.compile(
    r"<figure\b[^>]*>(?P<figure>.*?)(?:</figure\s*>|(?=<figure\b)|\Z)"
    r"|!\[(?P<alt>[^\]\n]*)\]\(\s*<?(?P<src>[^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)",
    re.S | re.I,
)
_ARCHIVED_IMAGE = re.compile(r"^https?://web\.archive\.org/web/\d+im_/(?P<original>.+)$")
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
# "<!" that does not open a comment: in HTML5 a bogus comment up to the next
# ">", which a browser never shows. Python's html.parser (3.10-3.12) instead
# raises AssertionError on some of them ("<![0", "<![A:"), so they are
# removed before it sees them.
_DECLARATION = re.compile(r"<!(?!--)[^>]*>?")


class _FigureParser(HTMLParser):
    # The stdlib parser copes with the broken HTML that real captures hold
    # (unquoted attributes, stray closing tags), which regexes do not.
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.img = None
        self.caption = None
        self._in_caption = 0

    def handle_starttag(self, tag, attrs):
        if tag == "img" and self.img is None:
            self.img = dict(attrs)
        elif tag == "figcaption":
            self._in_caption += 1
            if self.caption is None:
                self.caption = []

    def handle_endtag(self, tag):
        if tag == "figcaption" and self._in_caption:
            self._in_caption -= 1

    def handle_data(self, data):
        if self._in_caption:
            self.caption.append(data)


def clean_text(text):
    """Tags removed, entities decoded, white space folded; None when empty."""
    if text is None:
        return None
    text = _SPACE.sub(" ", html.unescape(_TAG.sub(" ", text))).strip()
    return text or None


def original_image_url(image_url):
    """The outlet's own URL of an image archived by the Wayback Machine."""
    match = _ARCHIVED_IMAGE.match(image_url or "")
    return match.group("original") if match else None


_CREDIT_END = (
    r"(?:攝|攝影|圖片|圖|照片|相片|截圖|製圖|繪圖|提供|劇照|美聯社|路透社?|法新社|新華社|中新社"
    r"|photo|Photo|PHOTO|Facebook|facebook|FB|fb|Twitter|twitter|Instagram|IG|AP|AFP|Reuters)"
)
_CREDIT_START = r"(?:圖片來源|照片來源|相片來源|圖片|照片|相片|圖|攝影|攝|製圖|資料來源|來源|Photo|Source)\s*[：:]"
_CREDIT = re.compile(rf"^(?:{_CREDIT_START}.*|.*{_CREDIT_END})$", re.S)
_TRAILING_BRACKETS = re.compile(r"^(?P<rest>.*?)\s*[（(](?P<credit>[^（）()]{1,40})[）)]\s*$", re.S)
_LAST_SENTENCE = re.compile(r"^(?P<rest>.*(?:[。！？!?]|\.(?=\s)))\s*(?P<credit>[^。！？!?]{1,40})$", re.S)
# After the last space, or as the whole caption, only a Chinese credit
# (… 何君健攝, 資料圖片): an English caption ending "a photo" is no credit.
_HAN = r"[\u4e00-\u9fff]"
_LAST_WORD = re.compile(rf"^(?P<rest>.*\S)\s+(?P<credit>\S*{_HAN}\S*)$", re.S)
_CHINESE = re.compile(_HAN)
_MAX_BARE_CREDIT = 20


def split_credit(caption):
    """Split the trailing photo credit off a caption.

    Returns ``(caption, credit)``. Credits come as the last sentence
    (``…會面。美聯社圖片``), in brackets (``…（資料圖片）``, stored without
    the brackets so they group with the bare form), after the last space
    (``… 何君健攝``), or as the whole caption (``資料圖片``).
    """
    if not caption:
        return caption, None
    for pattern in (_TRAILING_BRACKETS, _LAST_SENTENCE, _LAST_WORD):
        match = pattern.match(caption)
        credit = match.group("credit").strip() if match else ""
        if credit and len(credit) <= 40 and _CREDIT.match(credit):
            return match.group("rest").strip() or None, credit
    if len(caption) <= _MAX_BARE_CREDIT and _CHINESE.search(caption) and _CREDIT.match(caption):
        return None, caption
    return caption, None


def figure(image_url, alt, caption_html):
    """One figure row (without its ids) from an image and its caption."""
    caption = clean_text(caption_html)
    if caption:
        # A space where it stood: it was a line of its own (此行), so the text
        # on either side are separate lines, a caption and its credit perhaps.
        caption = _SPACE.sub(" ", without_placeholder(caption)).strip() or None
    caption, credit = split_credit(caption)
    return {
        "image_url": image_url or None,
        "original_image_url": original_image_url(image_url),
        "alt": clean_text(alt),
        "caption": caption,
        "credit": credit,
    }


def extract_figures(body):
    """Every picture in the body, in order: ``<figure>`` blocks and Markdown
    ``![alt](src)`` images alike. A figure without an ``<img>`` is kept with
    its caption and no image, since a reader still saw the caption."""
    figures = []
    for match in _FIGURE_OR_IMAGE.finditer(body or ""):
        if match.group("figure") is not None:
            parser = _FigureParser()
            parser.feed(_DECLARATION.sub("", match.group("figure")))
            parser.close()
            img = parser.img or {}
            caption = "".join(parser.caption) if parser.caption is not None else None
            if not img and caption is None:
                continue
            figures.append(figure(img.get("src"), img.get("alt"), caption))
        else:
            figures.append(figure(match.group("src"), match.group("alt"), None))
    return figures
