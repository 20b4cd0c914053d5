"""One archived article file in, one dict of columns out."""

import datetime as dt
import hashlib
import re

import frontmatter
import yaml

from hkcnews.build.figures import extract_figures
from hkcnews.terms import visible_text

FIELDS = ("title", "date", "last_updated", "author", "category", "tags", "url", "original_url")


class InvalidArticle(ValueError):
    """A file that cannot be read as an article; the message names it."""


class NotAnArticle(ValueError):
    """A Markdown file with no front matter: skipped, with a warning."""


_ARTICLE_NUMBER = re.compile(r"/article/(\d+)(?:/|$)")
_CAPTURE_TIME = re.compile(r"web\.archive\.org/web/(\d{14})")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\n(?P<yaml>.*?\n)?---[ \t]*(?:\n|\Z)", re.S)
_RULE = re.compile(r"^-{3,}[ \t]*$", re.M)
# The outlet's appeals, in the forms they took over the years.
_FOOTER_MARKERS = ("月費訂戶", "眾籌呼籲", "眾籌活動", "hkcnews.com/supportus")
_AVATAR = re.compile(r"\A!\[(?P<alt>[^\]]*)\]\((?P<src>[^)\s]+)[^)]*\)")
_SPACE = re.compile(r"\s+")
_BOLD_LINE = re.compile(r"^\*\*(?P<name>[^*\n]+)\*\*[ \t]*$", re.M)


def path_id(relative_path):
    """A stable id for a file whose URL has no article number: 40 bits of a
    hash of its path, above the outlet's own numbers and safe in JavaScript."""
    digest = hashlib.sha1(relative_path.encode("utf-8")).hexdigest()
    return 10**7 + int(digest[:10], 16)


def article_number(*urls):
    for url in urls:
        match = _ARTICLE_NUMBER.search(url or "")
        if match:
            return int(match.group(1))
    return None


def archived_at(url):
    """ISO datetime of a Wayback Machine capture from its 14-digit stamp."""
    match = _CAPTURE_TIME.search(url or "")
    if not match:
        return None
    try:
        return dt.datetime.strptime(match.group(1), "%Y%m%d%H%M%S").isoformat()
    except ValueError:
        return None


def iso_date(value, field):
    """``YYYY-MM-DD`` from a YAML date, datetime or string; None when empty.
    Raises ValueError naming the value when it is there but not a date."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    try:
        if isinstance(value, str) and re.match(r"\d{4}-\d{2}-\d{2}", text):
            if len(text) == 10:
                return dt.date.fromisoformat(text).isoformat()
            return dt.datetime.fromisoformat(text).date().isoformat()
    except ValueError:
        pass
    raise ValueError(f"{field} {text!r} is not a date")


def iso_datetime(value, field):
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, str) and len(value.strip()) > 10:
        try:
            return dt.datetime.fromisoformat(value.strip()).isoformat()
        except ValueError:
            raise ValueError(f"{field} {value.strip()!r} is not a date") from None
    return iso_date(value, field)


def text_field(value, field, warnings):
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        warnings.append(f"{field} is a {type(value).__name__}, not text: left empty")
        return None
    if isinstance(value, dt.date):
        value = value.isoformat()
    text = str(value).strip()
    return text or None


def tag_list(value, warnings):
    """Tags as trimmed, de-duplicated strings in front-matter order."""
    if value is None:
        return []
    if not isinstance(value, list):
        value = [value]
    tags = []
    for item in value:
        if isinstance(item, (dict, list)):
            warnings.append(f"a tag is a {type(item).__name__}, not text: left out")
            continue
        tag = text_field(item, "tag", warnings)
        if tag and tag not in tags:
            tags.append(tag)
    return tags


def split_body(content):
    """Split the page text into the article, the outlet's footer and the
    author box that may follow it. Returns ``(body, author_box_markdown)``."""
    rules = list(_RULE.finditer(content))
    # Section i is the text after rule i-1 (section 0: before the first rule).
    starts = [0] + [rule.end() for rule in rules]
    ends = [rule.start() for rule in rules] + [len(content)]
    sections = [content[s:e] for s, e in zip(starts, ends, strict=True)]
    body_end = len(sections)
    for i in range(1, len(sections)):
        if any(marker in sections[i] for marker in _FOOTER_MARKERS):
            body_end = i
            break
    # The author box follows the footer; without a footer, it can only be
    # the last section, and it still is not the article.
    after_body = range(body_end, len(sections)) if body_end < len(sections) else [len(sections) - 1]
    author_box = None
    for i in after_body:
        if i > 0 and _AVATAR.match(sections[i].strip()) and _BOLD_LINE.search(sections[i]):
            author_box = sections[i].strip()
            body_end = min(body_end, i)
    return content[: ends[body_end - 1]].strip(), author_box


def parse_author_box(markdown):
    """``{"name", "role", "bio", "avatar_url"}`` from the box under an opinion
    piece: an avatar image, a bold ``**博客 | Yuen Chan**`` line, a bio."""
    if not markdown:
        return None
    avatar = _AVATAR.match(markdown)
    bold = _BOLD_LINE.search(markdown)
    role, _, name = bold.group("name").strip().rpartition("|")
    bio = markdown[bold.end() :].strip()
    return {
        "name": name.strip(),
        "role": role.strip() or None,
        "bio": bio or None,
        "avatar_url": avatar.group("src") if avatar else None,
    }


def read_text(path, relative_path):
    """The file as text with LF line endings, and what was repaired."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise InvalidArticle(f"{relative_path}: cannot be read ({e.strerror})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidArticle(f"{relative_path}: not UTF-8 (byte 0x{data[e.start]:02x} at offset {e.start})") from None
    warnings = []
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        warnings.append("CRLF line endings")
    return text, warnings


def parse_front_matter(text, relative_path, warnings):
    """Front matter as a dict and the Markdown after it."""
    match = _FRONT_MATTER.match(text)
    if not match:
        raise NotAnArticle(f"{relative_path}: no front matter, not an article")
    raw = match.group("yaml") or ""
    # YAML rejects C0 control characters; 12 real files have them in titles.
    found = sorted(set(_CONTROL.findall(raw)))
    if found:
        raw = _CONTROL.sub("", raw)
        codes = ", ".join(f"U+{ord(c):04X}" for c in found)
        warnings.append(f"removed control characters {codes} from front matter")
    try:
        post = frontmatter.loads("---\n" + raw + "---\n")
    except yaml.YAMLError as e:
        reason = str(e).splitlines()[0]
        mark = getattr(e, "problem_mark", None)
        where = f" (front matter line {mark.line + 1})" if mark else ""
        raise InvalidArticle(f"{relative_path}: front matter is not valid YAML{where}: {reason}") from None
    except Exception as e:
        # frontmatter raises plain errors for a top level that is not a mapping.
        raise InvalidArticle(f"{relative_path}: front matter is not a YAML mapping ({e})") from None
    return post.metadata, text[match.end() :]


def read_capture(path, relative_path):
    """What one file holds before its body is taken apart: the article's
    columns from the front matter (repaired), the body, and the author box
    that may follow it. Returns ``(columns, body, author_box, warnings)``;
    raises InvalidArticle for a file that cannot be read and NotAnArticle for
    Markdown with no front matter."""
    text, warnings = read_text(path, relative_path)
    meta, content = parse_front_matter(text, relative_path, warnings)

    try:
        date = iso_date(meta.get("date"), "date")
        last_updated = iso_datetime(meta.get("last_updated"), "last_updated")
    except ValueError as e:
        raise InvalidArticle(f"{relative_path}: {e}") from None
    url = text_field(meta.get("url"), "url", warnings)
    original_url = text_field(meta.get("original_url"), "original_url", warnings)
    columns = {
        "id": article_number(original_url, url) or path_id(relative_path),
        "title": text_field(meta.get("title"), "title", warnings),
        "date": date,
        "year": int(date[:4]) if date else None,
        "author": text_field(meta.get("author"), "author", warnings),
        "category": text_field(meta.get("category"), "category", warnings),
        "tags": tag_list(meta.get("tags"), warnings),
        "url": url,
        "original_url": original_url,
        "archived_at": archived_at(url),
        "last_updated": last_updated,
        "source_path": relative_path,
    }
    unknown = sorted(str(key) for key in meta if key not in FIELDS)
    if unknown:
        warnings.append("unknown front matter fields ignored: " + ", ".join(unknown))
    content = repair_mojibake(columns, content, warnings)
    body, author_box = split_body(content)
    return columns, body, author_box, warnings


# One file of the backup (43001-44000/article_43693.md) is UTF-8 that was
# read as PT154 and saved again: 眾說 became зңҫиӘӘ. No maintained library
# undoes this pair (ftfy does not), so the round trip is done here.
_PT154_LETTER = re.compile("[\u0400-\u04ff]")
# Each character of the original is two to four non-ASCII characters of the
# mojibake, so a run of them is the unit that goes back: a run that cannot
# (a character cut off, a no-break space the archive added) stays as it is.
_NON_ASCII_RUN = re.compile("[^\x00-\x7f]+")
_HAN = re.compile("[\u4e00-\u9fff]")
_REPAIRED_FIELDS = ("title", "author", "category")


def _undo_pt154(match):
    try:
        return match.group().encode("ptcp154").decode("utf-8")
    except UnicodeError:
        return match.group()


def unmojibake(text):
    """``text`` as it was before its UTF-8 was read as PT154, or None when it
    is not such mojibake: the round trip must give Chinese text, so real
    Cyrillic (which is not UTF-8 read that way) stays as it is."""
    if not text or not _PT154_LETTER.search(text):
        return None
    repaired = _NON_ASCII_RUN.sub(_undo_pt154, text)
    return repaired if repaired != text and _HAN.search(repaired) else None


def repair_mojibake(columns, content, warnings):
    """Repair the text fields, tags and body that are PT154 mojibake, in
    place, with a warning naming them; returns the repaired content."""
    repaired = []
    for field in _REPAIRED_FIELDS:
        fixed = unmojibake(columns[field])
        if fixed:
            columns[field] = fixed
            repaired.append(field)
    tags = [unmojibake(tag) or tag for tag in columns["tags"]]
    if tags != columns["tags"]:
        columns["tags"] = list(dict.fromkeys(tags))
        repaired.append("tags")
    fixed = unmojibake(content)
    if fixed:
        content = fixed
        repaired.append("body")
    if repaired:
        warnings.append(f"repaired mojibake (UTF-8 read as PT154) in {', '.join(repaired)}")
    return content


def parse_article(path, relative_path):
    """Read one article file.

    Returns ``{"article": {...}, "text": the body as a reader sees it,
    "figures": [...], "author": {...} or None, "warnings": [...]}``. Raises
    InvalidArticle for a file that cannot be read and NotAnArticle for
    Markdown with no front matter.
    """
    article, body, author_box, warnings = read_capture(path, relative_path)
    text = visible_text(body)
    figures = extract_figures(body)
    for position, figure in enumerate(figures, 1):
        figure["position"] = position
    article.update(body=body or None, figure_count=len(figures), char_count=len(_SPACE.sub("", text)))
    return {
        "article": article,
        "text": text,
        "figures": figures,
        "author": parse_author_box(author_box),
        "warnings": [f"{relative_path}: {w}" for w in warnings],
    }
