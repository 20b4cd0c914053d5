"""The work a build hands to its worker processes.

First every file that changed is looked at once (``scan_capture``): its
number and the group of captures it belongs to. Then each group is read
whole (``prepare_group``): its captures parsed, reconciled into articles,
and the chosen capture of each article indexed.
"""

from hkcnews.build.articles import InvalidArticle, NotAnArticle, parse_article, read_capture
from hkcnews.build.captures import Capture, adds_nothing, failed_reason, group_key, reconcile
from hkcnews.build.fts import article_fts_values, figure_fts_values
from hkcnews.build.language import folded_text
from hkcnews.terms import without_headline


def scan_capture(job):
    """``(path, relative path)`` → ``("capture", (number, group key))``, or
    ``("invalid" | "skipped", message)``. A failed capture has no group
    key: it is reconciled alone."""
    path, relative_path = job
    try:
        columns, body, _, _ = read_capture(path, relative_path)
    except InvalidArticle as e:
        return "invalid", str(e)
    except NotAnArticle as e:
        return "skipped", str(e)
    failed = failed_reason(columns, body)
    return "capture", (columns["id"], None if failed else group_key(columns["title"], columns["date"]))


def capture_row(article, status, article_id=None, reason=None, similarity=None, body=None):
    return {
        "id": article["id"],
        "article_id": article_id,
        "status": status,
        "reason": reason,
        "url": article["url"],
        "original_url": article["original_url"],
        "archived_at": article["archived_at"],
        "source_path": article["source_path"],
        "char_count": article["char_count"],
        "similarity": similarity,
        "body": body,
    }


def _captions(parsed):
    return [f["caption"] for f in parsed["figures"] if f["caption"]]


def prepare_group(job):
    """Read one group of captures, ``[(path, relative path), …]``, and
    reconcile them. Returns ``{"articles": [prepared article], "captures":
    [capture row], "warnings", "invalid", "skipped": [message]}``; each
    prepared article is its chosen capture's parse with its index terms."""
    result = {"articles": [], "captures": [], "warnings": [], "invalid": [], "skipped": []}
    parsed = {}
    for path, relative_path in job:
        try:
            capture = parse_article(path, relative_path)
        except InvalidArticle as e:
            result["invalid"].append(str(e))
            continue
        except NotAnArticle as e:
            result["skipped"].append(str(e))
            continue
        result["warnings"].extend(capture["warnings"])
        columns = capture["article"]
        reason = failed_reason(columns, columns["body"])
        if reason:
            result["captures"].append(capture_row(columns, "failed", reason=reason))
        else:
            # What tells captures of one title apart is what follows it.
            capture["said"] = without_headline(capture["text"])
            parsed[columns["id"]] = capture
    found = reconcile(
        Capture(c["article"]["id"], c["article"]["char_count"], c["article"]["archived_at"], c["said"])
        for c in parsed.values()
    )
    for article in found:
        chosen = parsed[article.chosen.id]
        for capture, similarity in article.captures:
            this = parsed[capture.id]
            # The capture under the article's number is the article; the
            # others repeat it. The text is the chosen capture's, and a
            # capture whose text says more is kept whole beside it.
            new = capture is not article.chosen and not adds_nothing(
                this["said"], _captions(this), chosen["said"], _captions(chosen)
            )
            row = capture_row(
                this["article"],
                "article" if capture.id == article.id else "repeat",
                article.id,
                similarity=round(similarity, 3),
                body=this["article"]["body"] if new else None,
            )
            result["captures"].append(row)
        columns = dict(chosen["article"], id=article.id, capture_count=len(article.captures))
        for figure in chosen["figures"]:
            figure["fts"] = figure_fts_values(figure)
        result["articles"].append(
            {
                "article": columns,
                "figures": chosen["figures"],
                "author": chosen["author"],
                "fts": article_fts_values(columns["title"], chosen["text"], chosen["figures"]),
                "folded": folded_text(columns["title"], columns["body"], chosen["figures"]),
            }
        )
    return result
