"""Random article files, from odd front matter to broken bodies: the build
stores what it can read or rejects the file by name; never a traceback,
never a half-written database.

In CI the examples are derandomized (the same every run, tests/conftest.py);
``make fuzz`` runs ten times as many with fresh random seeds. Every input
that ever failed stays below as an explicit @example."""

import hashlib
import re
import sqlite3

import yaml
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from build_db import BuildFailed, build
from hkcnews.build.prepare import prepare_group, scan_capture

from .helpers import FUZZ_SCALE, SEEDS, write_articles

FIELDS = ["title", "date", "author", "category", "tags", "url", "original_url", "last_updated"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=10),  # control characters
    st.dates(),
    st.datetimes(),
    st.sampled_from(["2021-06-01", "2021-13-45", "20210601", "", "null", "~", "2021-06-01T10:00:00+08:00"]),
    st.integers(min_value=19000101, max_value=20991231),  # dates as numbers
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
front_matter = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=10), values, max_size=10)

figure_src = st.sampled_from(
    [
        'src="https://web.archive.org/web/2021im_/https://www.hkcnews.com/a.jpg"',
        "",
        'src=""',
        "src=",
        'src="javascript:alert(1)"',
    ]
)
body_pieces = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        [
            "香港",
            "\n\n",
            "---",
            "\n---\n",
            "<figure>",
            "</figure>",
            "<figcaption>",
            "</figcaption>",
            "**博客 | 某人**",
            "![]()",
            "![alt](/web/1/x.jpg)",
            "<script>alert(1)</script>",
            '{{< video src="//x" >}}',
        ]
    ),
    figure_src.map(lambda src: f'<img {src} alt="圖">'),
    figure_src.map(lambda src: f"<figure><figure><img {src}><figcaption>圖說<figure></figcaption>"),
)
# One file in twenty has a huge title or a 1 MB line: often enough to be
# tried every run, rarely enough that 2,000 examples take seconds.
HUGE = {"title": "長" * 100_000, "line": "x" * 1_000_000}
bodies = st.lists(body_pieces, max_size=12).map("".join)


@st.composite
def article_files(draw):
    """The bytes of one article file, well-formed or not."""
    meta = draw(front_matter)
    huge = draw(st.sampled_from([None] * 18 + list(HUGE)))
    if huge == "title":
        meta["title"] = HUGE["title"]
    try:
        head = yaml.safe_dump(meta, allow_unicode=True, default_flow_style=False)
    except yaml.YAMLError:
        head = "title: x\n"
    body = draw(bodies) + (HUGE["line"] if huge == "line" else "")
    shape = draw(st.sampled_from(["normal", "unclosed", "repeated", "none", "empty head", "crlf", "raw"]))
    text = {
        "normal": f"---\n{head}---\n\n{body}",
        "unclosed": f"---\n{head}\n{body}",
        "repeated": f"---\n---\n{head}---\n---\n{body}",
        "none": body,
        "empty head": f"---\n---\n{body}",
        "crlf": f"---\n{head}---\n\n{body}".replace("\n", "\r\n"),
        "raw": f"---\n{draw(st.text(max_size=200))}\n---\n{body}",
    }[shape]
    data = text.encode("utf-8", "surrogatepass")
    # Invalid UTF-8, now and then.
    if draw(st.booleans()) and draw(st.booleans()):
        at = draw(st.integers(min_value=0, max_value=len(data)))
        data = data[:at] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xe6\x96", b"\x00"])) + data[at:]
    return data


def read_one(path, name):
    """Both steps of the build for one file: what it is, and its rows.
    Returns (kind, rows) as check_result takes them."""
    kind, payload = scan_capture((path, name))
    if kind != "capture":
        return kind, payload
    group = prepare_group([(path, name)])
    assert not group["invalid"] and not group["skipped"]
    return kind, group


def check_result(kind, payload, name):
    if kind != "capture":
        assert kind in ("invalid", "skipped")
        assert payload.startswith(f"{name}: "), payload
        assert "Traceback" not in payload
        return
    (capture,) = payload["captures"]
    assert capture["source_path"] == name and isinstance(capture["id"], int)
    assert capture["status"] in ("article", "failed")
    assert all(w.startswith(f"{name}: ") for w in payload["warnings"])
    if capture["status"] == "failed":
        assert payload["articles"] == [] and capture["reason"] in ("farewell", "offline", "empty", "no text")
        return
    (prepared,) = payload["articles"]
    article = prepared["article"]
    assert article["id"] == capture["id"] == capture["article_id"] and article["source_path"] == name
    assert article["date"] is None or re.fullmatch(r"\d{4}-\d\d-\d\d", article["date"])
    assert article["year"] is None or article["year"] == int(article["date"][:4])
    for field in ("title", "author", "category", "url", "original_url", "body"):
        assert article[field] is None or isinstance(article[field], str)
    assert isinstance(article["tags"], list) and all(isinstance(t, str) and t for t in article["tags"])
    assert article["figure_count"] == len(prepared["figures"]) and article["capture_count"] == 1


# Found by earlier runs: html.parser raised AssertionError on "<![" inside a
# figure, and the build stopped with a traceback.
FOUND = [b"---\n{}\n---\n\n<FIGURE><![0", b"---\n{}\n---\n\n<figure><figcaption>x</figcaption><![A:"]


@settings(max_examples=2000 * FUZZ_SCALE, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(data=article_files())
@example(data=FOUND[0])
@example(data=FOUND[1])
def test_any_file_is_read_or_rejected_by_name(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz", numbered=True) / "article_1.md"
    path.write_bytes(data)
    kind, payload = read_one(path, "x/article_1.md")
    event(kind)
    check_result(kind, payload, "x/article_1.md")


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@settings(max_examples=100 * FUZZ_SCALE, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(data=article_files())
@example(data=FOUND[0])
@example(data=FOUND[1])
def test_build_stores_the_file_or_names_it_and_keeps_the_database(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("fuzzbuild", numbered=True)
    seeds = write_articles(folder / "seeds", {"seed.md": (SEEDS / "article_39427.md").read_text(encoding="utf-8")})
    db = folder / "news.db"
    build(seeds, db)
    before = digest(db)
    (seeds / "fuzz.md").write_bytes(data)
    kind, payload = read_one(seeds / "fuzz.md", "fuzz.md")
    try:
        build(seeds, db)
    except BuildFailed as e:
        assert kind == "invalid" or (kind == "capture" and "already used by" in e.errors[0])
        assert all(error.startswith("fuzz.md: ") for error in e.errors)
        assert digest(db) == before
    else:
        with sqlite3.connect(db) as conn:
            assert conn.execute("pragma integrity_check").fetchone() == ("ok",)
            stored = conn.execute("select id, status from captures where source_path = 'fuzz.md'").fetchall()
            articles = conn.execute("select title, date, body from articles where source_path = 'fuzz.md'").fetchall()
        if kind == "capture":
            (capture,) = payload["captures"]
            assert stored == [(capture["id"], capture["status"])]
            # The seed is the only other file, so the file is its own article
            # unless it holds none.
            expected = [
                (a["article"]["title"], a["article"]["date"], a["article"]["body"]) for a in payload["articles"]
            ]
            assert articles == expected
        else:
            assert stored == [] and articles == []
    assert sorted(p.name for p in folder.iterdir()) == ["news.db", "seeds"]
