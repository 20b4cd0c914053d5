#!/usr/bin/env python
"""Every page kind and a whole download, timed at two commits in one run: the guard for a change.

    make bench-ab REV=main~1                         # REV (before) against the working tree (after), 50,000 files
    make bench-ab REV=HEAD AFTER=HEAD N=5000          # A against A: what the machine's noise is
    .venv/bin/python bench/ab.py --before REV --after REV2 --files 50000
    .venv/bin/python bench/ab.py --before REV --seeds DIR --urls 10 --repeat 3 --json ab.json

"before" (A) is a git worktree of REV made under a temporary folder (git
worktree add --detach), removed at the end; "after" (B) is this working
tree as it is, uncommitted changes included, or a worktree of --after.
Each side runs its own code with this virtual environment: `python -P`
(no working directory on the path) in the side's folder, with PYTHONPATH
the side's folder after a folder holding a dist-info of the side's own
(its pyproject.toml's Datasette entry points, version 0.1.0+ab.a or +ab.b).
The editable install's finder comes after PYTHONPATH, and pluggy takes the
first distribution that names a plugin, so Datasette loads the side's
plugin, whatever its module is called (hkcnews.plugin in older commits).
The run checks both, and stops when either is not the side's: a
subprocess with the same command prints hkcnews.__file__ and the plugin
module's file, and each served Datasette's /-/plugins.json must give the
plugin the side's version.

The corpus is ../shared/corpus/make_corpus.py's N files (seed 1), written
once into --workdir, or --seeds DIR. Each side's database is built by its
own build_db.py, timed; a build is reused, with the time it took then,
while the side's build code (build_db.py and hkcnews/ outside the site's
and the server's folders) and the corpus are the same (--rebuild builds
again). The builds are reported with their ratio, beside bench/stock.py's
import of the same files (built once per corpus).

Both sides are served at once with `python -m hkcnews.serve` (2 workers, as
in production) on loopback ports, and stock Datasette with the same
settings (bench/busy_day.py's stock_command) for the pages it has. Every
request carries a cookie, so the page cache passes it through and every
page is computed (a response marked as a cache hit is counted in the
notes). Per page kind, --urls different URLs: search words drawn from the
corpus as bench/run.py draws them (random substrings of its Chinese runs,
by length), its English words, the tags of the articles the words came
from, its dates and articles, the same for both sides. The first --warmup
of each kind are asked first, untimed; a kind a side does not answer with
a 200 then is n/a there. Then every request of every kind, in one seeded
shuffled order (each kind's requests spread over the whole run, so that a
slow spell of the machine falls on all kinds alike), goes to every server
in turn, the order rotating. Whole downloads (CSV and JSON lines of
1-character searches, every matching article) come after, the same way:
time to first byte, total time, rows/s.

Prints one Markdown table: median, p95, p99 (ms) of each side; B/A of the
medians, of the p95s, and paired (the median of each URL's B/A, asked of
both within a moment); stock's median and B/stock. SLOWER marks a figure
whose paired ratio is more than 10% worse after than before (a time up,
rows/s down). Stops by itself; servers and worktrees are removed however
it ends (Ctrl-C included). Run by hand; nothing here is a test.
"""

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import random
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx

if sys.version_info < (3, 11):
    raise SystemExit("bench/ab.py needs Python 3.11 or later (python -P, tomllib)")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

import datasette.version  # noqa: E402
from busy_day import article_keys, running, stock_command  # noqa: E402
from run import COMPUTE, cpu_model, free_port, make_corpus, read_whole, sample_queries, timed_run  # noqa: E402

from hkcnews.terms import _CJK_RUN  # noqa: E402

WORKERS = 2
SLOWER = 1.10
SEED = 1
# Folders of a checkout whose code serves pages rather than builds the
# database: a change there keeps a side's database (hkcnews/plugin is the
# site's folder in older commits).
NOT_BUILD = ("hkcnews/site/", "hkcnews/serve/", "hkcnews/plugin/")


# --- the two sides -------------------------------------------------------


def git(*args):
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True).stdout.strip()


@dataclass
class Side:
    name: str  # A (before) or B (after)
    label: str  # the commit, or the working tree
    root: Path
    shim: Path
    project: str  # the distribution's name, and the shim's version of it
    version: str
    db: Path | None = None
    build: dict = field(default_factory=dict)
    imports: dict = field(default_factory=dict)


def commit_label(rev):
    return git("log", "-1", "--format=%h %s", rev)[:90]


def working_tree_label():
    changed = git("status", "--porcelain", "--untracked-files=no")
    head = commit_label("HEAD")
    return f"working tree (HEAD {head}" + (", with uncommitted changes)" if changed else ")")


def add_worktree(rev, folder):
    git("worktree", "add", "--detach", str(folder), rev)
    return folder


def remove_worktree(folder):
    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(folder)], capture_output=True)


def write_shim(root, folder, tag):
    """A dist-info in ``folder`` with the entry points of ``root``'s
    pyproject.toml and a version of its own (0.1.0+ab.a): first on the
    side's path, it is the distribution Datasette (pluggy) takes the plugin
    from, not the editable install's, and /-/plugins.json shows its version."""
    import tomllib  # imported here, after the check of Python's version at the top

    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    version = f"{project.get('version', '0')}+ab.{tag.lower()}"
    info = folder / f"{project['name'].replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {version}\n")
    groups = project.get("entry-points", {})
    (info / "entry_points.txt").write_text(
        "".join(f"[{g}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) + "\n" for g, eps in groups.items())
    )
    return folder, project["name"], version


def in_side(side, *args):
    """A command that runs ``python -P args`` with the side's code: in its
    folder, which is first on the path after the shim's."""
    path = os.pathsep.join([str(side.shim), str(side.root)])
    return ["env", "-C", str(side.root), f"PYTHONPATH={path}", sys.executable, "-P", *args]


_WHICH = """
import importlib, importlib.metadata, json, hkcnews
ep = next(e for d in importlib.metadata.distributions() for e in d.entry_points
          if e.group == "datasette" and e.name == "hkcnews")
print(json.dumps({"hkcnews": hkcnews.__file__, "entry point": ep.value,
                  "plugin": importlib.import_module(ep.value).__file__}))
"""


def check_imports(side):
    """What the side's processes import: hkcnews, and the plugin module
    Datasette would load (the first "hkcnews" entry point, as pluggy takes
    it); SystemExit when either is not under the side's folder."""
    found = json.loads(subprocess.run(in_side(side, "-c", _WHICH), check=True, capture_output=True, text=True).stdout)
    for what in ("hkcnews", "plugin"):
        if not Path(found[what]).resolve().is_relative_to(side.root.resolve()):
            raise SystemExit(f"{side.name}: {what} imports from {found[what]}, not from {side.root}")
    side.imports = found
    return found


def check_served(side, client):
    """That the served Datasette took its plugin from the side's shim:
    /-/plugins.json gives the plugin's distribution and version."""
    plugins = client.get("/-/plugins.json").json()
    versions = [p.get("version") for p in plugins if p["name"] == side.project]
    if versions != [side.version]:
        raise SystemExit(f"{side.name}: the served plugin {side.project} is version {versions}, not {side.version}")
    side.imports["served plugin"] = f"{side.project} {side.version}"


# --- the corpus and the databases ----------------------------------------


def corpus_id(seeds):
    """The corpus's identity for the database cache: its folder, how many
    files and the newest one's time."""
    files = list(seeds.rglob("*.md"))
    newest = max((p.stat().st_mtime_ns for p in files), default=0)
    return hashlib.sha1(f"{seeds.resolve()}|{len(files)}|{newest}".encode()).hexdigest()[:10]


def build_key(root):
    """A hash of the code that builds the database: build_db.py and every
    file of hkcnews/ outside the folders that only serve pages."""
    digest = hashlib.sha1()
    files = [root / "build_db.py", *sorted((root / "hkcnews").rglob("*"))]
    for path in files:
        relative = path.relative_to(root).as_posix()
        if path.is_file() and "__pycache__" not in relative and not relative.startswith(NOT_BUILD):
            digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def timed(command, what):
    try:
        return timed_run(command)
    except subprocess.CalledProcessError as e:
        raise SystemExit(f"{what} failed:\n{e.stderr[-3000:]}") from None


def built(side, seeds, work, cid, rebuild, since):
    """The side's database, built by its own build_db.py unless a build by
    the same build code from the same corpus is cached; linked into a folder
    of the side's own, where its server writes its metadata and counts."""
    key = build_key(side.root)
    folder = work / "db" / f"{cid}-{key}"
    db, record = folder / "news.db", folder / "build.json"
    if rebuild or not (record.exists() and db.exists()):
        folder.mkdir(parents=True, exist_ok=True)
        record.unlink(missing_ok=True)
        db.unlink(missing_ok=True)
        print(f"{side.name}: building {db} with {side.label}", file=sys.stderr)
        os.sync()
        command = in_side(side, str(side.root / "build_db.py"), "--seeds", str(seeds), "--db", str(db))
        seconds, rss = timed([*command, "--skip-invalid", "--full"], f"{side.name}'s build")
        record.write_text(json.dumps({"seconds": seconds, "rss_mb": rss, "when": time.time(), "key": key}))
        side.build = {**json.loads(record.read_text()), "reused": False}
    else:
        side.build = {**json.loads(record.read_text()), "reused": json.loads(record.read_text())["when"] < since}
        print(f"{side.name}: reusing {db} (same build code), built in {side.build['seconds']:.1f} s", file=sys.stderr)
    served = work / f"serve-{side.name}" / "news.db"
    served.parent.mkdir(parents=True, exist_ok=True)
    if not (served.exists() and os.path.samefile(served, db)):
        served.unlink(missing_ok=True)
        os.link(db, served)
    side.db = served
    return served


def stock_built(seeds, work, cid):
    """bench/stock.py's database of the corpus, built once, and its time."""
    folder = work / "db" / f"{cid}-stock"
    db, record = folder / "stock.db", folder / "build.json"
    if not (record.exists() and db.exists()):
        folder.mkdir(parents=True, exist_ok=True)
        print(f"building stock's {db}", file=sys.stderr)
        partial = folder / "stock.partial.db"
        seconds, rss = timed([sys.executable, str(HERE / "stock.py"), str(seeds), str(partial)], "stock's import")
        os.replace(partial, db)
        record.write_text(json.dumps({"seconds": seconds, "rss_mb": rss, "when": time.time()}))
    return db, json.loads(record.read_text())


# --- what is asked -------------------------------------------------------


def corpus_sample(stock_db, count=3000, seed=SEED):
    """A seeded sample of the corpus's files (title, body, tags, date), read
    from stock's database: the same for any two commits."""
    conn = sqlite3.connect(f"file:{stock_db}?mode=ro", uri=True)
    rowids = [r for (r,) in conn.execute("select rowid from articles where length(body) > 200")]
    chosen = sorted(random.Random(seed).sample(rowids, min(count, len(rowids))))
    rows = []
    for start in range(0, len(chosen), 500):
        part = chosen[start : start + 500]
        rows += conn.execute(
            f"select title, body, tags, date from articles where rowid in ({','.join('?' * len(part))})", part
        ).fetchall()
    conn.close()
    return rows


def words(rows, k):
    """Search words and filters drawn from the corpus's own text: random
    substrings of its Chinese runs by length (bench/run.py's sample_queries,
    each kind with its own seed), its frequent English words, the tags of
    the articles a word was drawn from, its dates."""
    docs = {i: f"{title or ''}\n{body or ''}" for i, (title, body, _, _) in enumerate(rows)}
    rng = random.Random(SEED)
    english = [w for w, _ in Counter(re.findall(r"\b[A-Z][a-z]{3,}\b", " ".join(docs.values()))).most_common(60)]
    tagged = []
    for _ in range(20 * k):
        title, body, tags, _ = rng.choice(rows)
        tags = json.loads(tags or "[]")
        if tags and any(len(run) >= 2 for run in _CJK_RUN.findall(body)):
            tagged.append((sample_queries({0: body}, 1, [2], seed=rng.randrange(10**9))[0], rng.choice(tags)))
        if len(tagged) == k:
            break
    dates = sorted({d[:10] for *_, d in rows if d and re.fullmatch(r"\d{4}-\d\d-\d\d", d[:10])})
    pairs = sample_queries(docs, 3 * k, [2], seed=20)
    return {
        "1": sample_queries(docs, k, [1], seed=1),
        "2": sample_queries(docs, k, [2], seed=2),
        "3-4": sample_queries(docs, k, [3, 4], seed=3),
        "english": (rng.sample(english, len(english)) * k)[:k] if english else ["Reuters"] * k,
        "json": sample_queries(docs, k, [2], seed=4),
        "tagged": tagged,
        "tags": [t for _, t in tagged],
        "canned": sample_queries(docs, k, [2], seed=5),
        "all": sample_queries(docs, k, [2], seed=6),
        "trends": [pairs[i : i + 3] for i in range(0, 3 * k, 3)],
        "dates": rng.sample(dates, min(k, len(dates))),
        "concordance": sample_queries(docs, k, [2], seed=7),
        "collocates": sample_queries(docs, k, [2], seed=8),
        "keywords": sample_queries(docs, k, [2], seed=9),
    }


def page_kinds(w, ids, paths, k):
    """[(label, urls for the archive, urls for stock or None)]; the two
    lists ask the same things in the same order."""
    q = quote

    def table(db, suffix=""):
        return f"/{db}/articles{suffix}"

    def both(make, stock_has=True):
        return lambda items: (
            [make("news", x) for x in items],
            [make("stock", x) for x in items] if stock_has else None,
        )

    search = both(lambda db, s: f"{table(db)}?_search={q(s)}")
    kinds = [
        ("articles table page", both(lambda db, _: table(db))(range(k))),
        ("search, 1 character", search(w["1"])),
        ("search, 2 characters", search(w["2"])),
        ("search, 3–4 characters", search(w["3-4"])),
        ("search, English word", search(w["english"])),
        ("search JSON, 2 characters", both(lambda db, s: f"{table(db, '.json')}?_search={q(s)}")(w["json"])),
        (
            "search + tag filter",
            both(lambda db, st: f"{table(db)}?_search={q(st[0])}&tags__arraycontains={q(st[1])}")(w["tagged"]),
        ),
        ("a tag's articles (facet link)", both(lambda db, t: f"{table(db)}?tags__arraycontains={q(t)}")(w["tags"])),
        ("canned search", both(lambda db, s: f"/{db}/search?q={q(s)}", False)(w["canned"])),
        ("search-all (/-/search)", both(lambda db, s: f"/-/search?q={q(s)}")(w["all"])),
        (
            "trends, 3 terms",
            both(lambda db, ts: f"/{db}/-/trends?" + "&".join(f"q={q(t)}" for t in ts), False)(w["trends"]),
        ),
        ("article page", ([f"/news/articles/{i}" for i in ids], [f"/stock/articles/{p}" for p in paths])),
        ("day page", both(lambda db, d: f"/{db}/-/day/{d}", False)(w["dates"])),
        ("concordance", both(lambda db, s: f"/{db}/-/concordance?q={q(s)}", False)(w["concordance"])),
        ("collocates", both(lambda db, s: f"/{db}/-/collocates?q={q(s)}", False)(w["collocates"])),
        ("keywords", both(lambda db, s: f"/{db}/-/keywords?q={q(s)}", False)(w["keywords"])),
    ]
    return [(label, news, stock) for label, (news, stock) in kinds]


def download_kinds(w, count):
    """The whole downloads of 1-character searches: the table's CSV link
    (every match, hkcnews/site/downloads.py; stock needs _stream=on) and
    its JSON lines (stock has none)."""
    chars = list(dict.fromkeys(w["1"]))[:count]
    return [
        (
            "CSV",
            [f"/news/articles.csv?_search={quote(c)}" for c in chars],
            [f"/stock/articles.csv?_search={quote(c)}&_stream=on" for c in chars],
        ),
        ("JSON lines", [f"/news/articles.jsonl?_search={quote(c)}" for c in chars], None),
    ]


def common_articles(a_db, b_db, stock_db, k):
    """``k`` articles that both sides and stock hold: the archive's ids and
    stock's tilde-encoded paths, in the same order."""
    ids, paths = article_keys(b_db, stock_db)
    conn = sqlite3.connect(f"file:{a_db}?mode=ro", uri=True)
    in_a = {str(i) for (i,) in conn.execute("select id from articles")}
    conn.close()
    pairs = [(i, p) for i, p in zip(ids, paths, strict=True) if i in in_a]
    chosen = random.Random(SEED).sample(pairs, min(k, len(pairs)))
    return [i for i, _ in chosen], [p for _, p in chosen]


# --- timing --------------------------------------------------------------


@dataclass
class Figures:
    """One server's times (ms) for one kind, by the number of the request
    (the same number at each server is the same URL, asked in the same
    round), and what went wrong."""

    times: dict = field(default_factory=dict)
    errors: Counter = field(default_factory=Counter)
    hits: int = 0
    absent: str = ""  # why the kind is n/a here
    extra: dict = field(default_factory=dict)


def get(client, url):
    start = time.perf_counter()
    response = client.get(url)
    return (time.perf_counter() - start) * 1000, response


def rotated(items, i):
    i %= len(items) or 1
    return items[i:] + items[:i]


def warmed(clients, urls, warmup):
    """The servers that answer the kind (its first ``warmup`` URLs asked,
    untimed, with a 200), and {server: Figures}, n/a where one does not."""
    figures = {name: Figures() for name in clients}
    asking = []
    for name, client in clients.items():
        if urls[name] is None:
            figures[name].absent = "n/a"
            continue
        for url in urls[name][:warmup] or urls[name][:1]:
            _, response = get(client, url)
            if response.status_code != 200:
                figures[name].absent = f"n/a (HTTP {response.status_code})"
                break
        else:
            asking.append(name)
    return asking, figures


def time_pages(clients, kinds, warmup, repeat):
    """{label: {server: Figures}}. Every request of every kind in one seeded
    shuffled order, so that each kind's requests are spread over the whole
    run (the machine's slow spells, seconds long, fall on all kinds alike),
    each asked of every server in turn, the order rotating."""
    urls, asking, results, jobs = {}, {}, {}, []
    for label, news_urls, stock_urls in kinds:
        urls[label] = {name: stock_urls if name == "stock" else news_urls for name in clients}
        asking[label], results[label] = warmed(clients, urls[label], warmup)
        jobs += [(label, i) for i in range(len(news_urls) * repeat)]
    random.Random(SEED).shuffle(jobs)
    for n, (label, i) in enumerate(jobs):
        if n % 200 == 0:
            print(f"  {n:,} of {len(jobs):,} requests to each server", file=sys.stderr)
        for name in rotated(asking[label], n):
            address = urls[label][name][i % len(urls[label][name])]
            ms, response = get(clients[name], address)
            figures = results[label][name]
            if response.status_code == 200:
                figures.times[i] = ms
            else:
                figures.errors[response.status_code] += 1
            figures.hits += response.headers.get("x-hkcnews-cache") == "hit"
    return results


class NotADownload(Exception):
    """A 200 that is not the format asked for (an HTML page, say)."""


def check_download(response, csv):
    if response.status_code != 200:
        raise NotADownload(f"HTTP {response.status_code}")
    kind = response.headers.get("content-type", "").split(";")[0]
    if kind not in (("text/csv", "text/plain") if csv else ("application/x-ndjson", "application/jsonl")):
        raise NotADownload(kind or "no content-type")


def download(client, url, csv):
    """(first byte ms, total ms, rows): a whole download, its rows counted
    as line ends (CRLF ends a CSV row, as Datasette writes them; a JSON line
    holds no raw newline), without parsing, to leave the CPU to the server."""
    end = b"\r\n" if csv else b"\n"
    start = time.perf_counter()
    first, rows, last = None, 0, b""
    with client.stream("GET", url) as response:
        check_download(response, csv)
        for chunk in response.iter_bytes():
            if first is None:
                first = (time.perf_counter() - start) * 1000
            rows += chunk.count(end) + (csv and last == b"\r" and chunk[:1] == b"\n")
            last = chunk[-1:]
    return first, (time.perf_counter() - start) * 1000, rows - csv


def time_downloads(clients, kinds, repeat):
    """{label: {server: Figures}} for first byte, total time and rows/s:
    each server's download checked first (its status and type, the body
    left unread), then every download in a seeded shuffled order, each of
    every server in turn, the order rotating."""
    urls, figures, asking, jobs = {}, {}, {}, []
    for label, news_urls, stock_urls in kinds:
        urls[label] = {name: stock_urls if name == "stock" else news_urls for name in clients}
        figures[label] = {name: {m: Figures() for m in ("first", "total", "rate")} for name in clients}
        asking[label] = []
        for name, client in clients.items():
            try:
                if urls[label][name] is None:
                    raise NotADownload("n/a")
                # Sorted otherwise than the timed ones: a download the bundle
                # keeps on disk (kept_downloads.py) is then not this one.
                with client.stream("GET", urls[label][name][0] + "&_sort=title") as response:
                    check_download(response, label == "CSV")
                asking[label].append(name)
            except NotADownload as e:
                for f in figures[label][name].values():
                    f.absent = "n/a" if str(e) == "n/a" else f"n/a ({e})"
        jobs += [(label, i) for i in range(len(news_urls) * repeat)]
    time.sleep(2)  # for the servers to see the checks' connections closed and stop sending
    random.Random(SEED).shuffle(jobs)
    for n, (label, i) in enumerate(jobs):
        print(f"  download {n + 1} of {len(jobs)} from each server", file=sys.stderr)
        for name in rotated(asking[label], n):
            f = figures[label][name]
            try:
                first, total, rows = download(
                    clients[name], urls[label][name][i % len(urls[label][name])], label == "CSV"
                )
            except (NotADownload, httpx.HTTPError, httpx.StreamError) as e:
                f["total"].errors[str(e) if isinstance(e, NotADownload) else type(e).__name__] += 1
                continue
            f["first"].times[i], f["total"].times[i], f["rate"].times[i] = first, total, rows / (total / 1000)
            f["rate"].extra.setdefault("rows", []).append(rows)
    results = {}
    for label, by_server in figures.items():
        for measure, title in (
            ("first", f"{label} download of a 1-character search: first byte, ms"),
            ("total", f"{label} download: total, ms"),
            ("rate", f"{label} download: rows/s"),
        ):
            results[title] = {name: f[measure] for name, f in by_server.items()}
    return results


# --- the report ----------------------------------------------------------


def stats(times):
    if not times:
        return None
    ordered = sorted(times)
    pick = lambda p: ordered[min(len(ordered) - 1, int(len(ordered) * p))]  # noqa: E731
    return {"median": statistics.median(ordered), "p95": pick(0.95), "p99": pick(0.99), "n": len(ordered)}


def number(value, rate=False):
    if value is None:
        return ""
    return f"{value:,.0f}" if rate or value >= 100 else f"{value:.1f}"


def ratio(after, before):
    return after / before if after is not None and before else None


def paired(a, b):
    """The median of B/A over the requests both answered: each pair is the
    same URL asked of both within a moment, so a burst of other work on the
    machine slows both of a pair, where it may slow one side's median."""
    both = a.times.keys() & b.times.keys()
    return statistics.median(b.times[i] / a.times[i] for i in both) if both else None


def two(value):
    return f"{value:.2f}" if value is not None else ""


def is_worse(value, rate):
    """More than SLOWER worse after: a time up, or rows/s down."""
    return value is not None and (value < 1 / SLOWER if rate else value > SLOWER)


def row(label, figures, rate=False):
    """A table row and its record: A's and B's median, p95, p99; B/A of the
    median and p95 and paired; stock's median and B/stock."""
    a, b, s = (stats(figures[n].times.values()) for n in ("A", "B", "stock"))
    cells, record = [label], {"figure": label}
    for name, st in (("A", a), ("B", b)):
        if st is None:
            cells += [figures[name].absent or "no answer", "", ""]
        else:
            cells += [number(st[k], rate) for k in ("median", "p95", "p99")]
    at = lambda st, k: st and st[k]  # noqa: E731
    median_ratio, p95_ratio = ratio(at(b, "median"), at(a, "median")), ratio(at(b, "p95"), at(a, "p95"))
    pair_ratio, stock_ratio = paired(figures["A"], figures["B"]), ratio(at(b, "median"), at(s, "median"))
    cells += [two(median_ratio), two(p95_ratio), two(pair_ratio)]
    cells += [number(s["median"], rate) if s else figures["stock"].absent, two(stock_ratio)]
    worse = is_worse(pair_ratio, rate)
    notes = ["**SLOWER**"] if worse else []
    for name, f in figures.items():
        if f.errors:
            notes.append(f"{name} errors: " + ", ".join(f"{k} ×{n}" for k, n in f.errors.items()))
        if f.hits:
            notes.append(f"{name}: {f.hits} cache hits")
        if f.extra.get("rows"):
            notes.append(f"{name} rows {statistics.median(f.extra['rows']):,.0f}")
    cells.append("; ".join(notes))
    for name, st in (("A", a), ("B", b), ("stock", s)):
        record[name] = {**(st or {}), "absent": figures[name].absent, "times": list(figures[name].times.values())}
    record.update(ratio=median_ratio, p95_ratio=p95_ratio, paired=pair_ratio, stock_ratio=stock_ratio, slower=worse)
    return "| " + " | ".join(cells) + " |", record


def build_row(sides, stock):
    """The builds' row: one time each, so the ratio is the paired one too."""
    a, b = sides["A"].build, sides["B"].build
    same = a["key"] == b["key"]
    r = ratio(b["seconds"], a["seconds"])
    worse = not same and is_worse(r, False)
    notes = ["**SLOWER**" if worse else "", "the same build code: one build" if same else ""]
    if a["reused"] or b["reused"]:
        notes.append("reused from an earlier run, with the time it took then")
    times = [f"{a['seconds']:.1f}", "", "", f"{b['seconds']:.1f}", "", ""]
    ratios = [two(r), "", two(r), f"{stock['seconds']:.1f}", two(ratio(b["seconds"], stock["seconds"]))]
    record = {"figure": "build, s", "A": a, "B": b, "stock": stock, "ratio": r, "slower": worse}
    return "| " + " | ".join(["build, s", *times, *ratios, "; ".join(filter(None, notes))]) + " |", record


HEADER = [
    "| figure | A median | A p95 | A p99 | B median | B p95 | B p99 | B/A | B/A p95 | B/A paired | stock median "
    "| B/stock | note |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
]


def report(sides, stock, pages, downloads, context):
    lines = [*context, "", *HEADER]
    records = []
    line, record = build_row(sides, stock)
    lines.append(line)
    records.append(record)
    for label, figures in {**pages, **downloads}.items():
        line, record = row(label, figures, rate=label.endswith("rows/s"))
        lines.append(line)
        records.append(record)
    slower = [r["figure"] for r in records if r["slower"]]
    lines += [
        "",
        f"More than {SLOWER - 1:.0%} slower after than before: {', '.join(slower)}."
        if slower
        else f"No figure is more than {SLOWER - 1:.0%} slower after than before.",
    ]
    return lines, records


# --- the run -------------------------------------------------------------


def load():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


@contextlib.contextmanager
def terminated_as_interrupt():
    """SIGTERM raises KeyboardInterrupt, so that the servers and worktrees
    are removed as they are on Ctrl-C."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, metavar="REV", help="the commit before the change (A)")
    parser.add_argument("--after", metavar="REV", help="the commit after it (B); default: this working tree")
    parser.add_argument("--files", type=int, default=50_000, help="files for make_corpus.py to write (seed 1)")
    parser.add_argument("--seeds", type=Path, help="a folder of articles instead (real ones, or files made before)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/hkcnews-ab"), help="corpus and database cache")
    parser.add_argument("--urls", type=int, default=20, help="different URLs per page kind (default 20)")
    parser.add_argument("--repeat", type=int, default=1, help="times each URL is asked of each server")
    parser.add_argument("--warmup", type=int, default=2, help="URLs of each kind asked first, untimed")
    parser.add_argument("--downloads", type=int, default=3, help="whole downloads of each format per server")
    parser.add_argument("--rebuild", action="store_true", help="build both sides again, even when cached")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the figures as JSON too")
    args = parser.parse_args()

    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    started, began, load_before = dt.datetime.now(), time.time(), load()
    with contextlib.ExitStack() as stack, terminated_as_interrupt():
        trees = Path(tempfile.mkdtemp(prefix="hkcnews-ab-", dir=work))
        stack.callback(lambda: subprocess.run(["rm", "-rf", str(trees)]))
        sides = {}
        for name, rev in (("A", args.before), ("B", args.after)):
            if rev is None:
                root, label = ROOT, working_tree_label()
            else:
                label = commit_label(rev)
                root = add_worktree(git("rev-parse", "--verify", f"{rev}^{{commit}}"), trees / name)
                stack.callback(remove_worktree, root)
            sides[name] = Side(name, label, root, *write_shim(root, trees / f"shim-{name}", name))
            found = check_imports(sides[name])
            print(f"{name} = {label}: hkcnews {found['hkcnews']}, plugin {found['plugin']}", file=sys.stderr)

        seeds = (args.seeds or make_corpus(args.files, work / f"corpus-{args.files}-seed{SEED}")).resolve()
        cid = corpus_id(seeds)
        for side in sides.values():
            built(side, seeds, work, cid, args.rebuild, began)
        stock_db, stock = stock_built(seeds, work, cid)

        rows = corpus_sample(stock_db)
        w = words(rows, args.urls)
        ids, paths = common_articles(sides["A"].db, sides["B"].db, stock_db, args.urls)
        kinds = page_kinds(w, ids, paths, args.urls)

        clients = {}
        for name, side in sides.items():
            read_whole(side.db)
            port = free_port()
            command = in_side(side, "-m", "hkcnews.serve", str(side.db), "--port", str(port), "--workers", str(WORKERS))
            url = stack.enter_context(running(command, port, work / f"serve-{name}.log"))
            clients[name] = stack.enter_context(httpx.Client(base_url=url, timeout=120, cookies=COMPUTE))
            check_served(side, clients[name])
            print(f"{name}: served on {url}, plugin {side.imports['served plugin']}", file=sys.stderr)
        read_whole(stock_db)
        port = free_port()
        url = stack.enter_context(running(stock_command(stock_db, port), port, work / "serve-stock.log"))
        clients["stock"] = stack.enter_context(httpx.Client(base_url=url, timeout=120, cookies=COMPUTE))

        print("pages", file=sys.stderr)
        pages = time_pages(clients, kinds, args.warmup, args.repeat)
        print("downloads", file=sys.stderr)
        downloads = time_downloads(clients, download_kinds(w, args.downloads), args.repeat)

    conn = sqlite3.connect(f"file:{sides['B'].db}?mode=ro", uri=True)
    articles, files = (conn.execute(f"select count(*) from {t}").fetchone()[0] for t in ("articles", "captures"))
    conn.close()
    context = [
        f"{started:%Y-%m-%d %H:%M}; {cpu_model()}, {os.cpu_count()} cores; Python {sys.version.split()[0]}, "
        f"SQLite {sqlite3.sqlite_version}, Datasette {datasette.version.__version__}; "
        f"load average {load_before} before, {load()} after",
        "",
        f"A (before): {sides['A'].label}",
        f"B (after): {sides['B'].label}",
        "",
        f"Corpus: {files:,} files in {seeds} ({articles:,} articles in B's build). Pages: {args.urls} URLs a kind "
        f"× {args.repeat}, after {args.warmup} untimed, each asked of A, B and stock in turn (the order rotating), "
        f"computed (a cookie passes the page cache); {WORKERS} workers each; downloads: "
        f"{min(args.downloads, len(set(w['1'])))} 1-character searches a format. Times in ms, rows/s for rows/s.",
    ]
    lines, records = report(sides, stock, pages, downloads, context)
    print("\n".join(lines))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "context": context,
                    "sides": {n: {"label": s.label, "imports": s.imports, "build": s.build} for n, s in sides.items()},
                    "figures": records,
                    "words": w,
                },
                ensure_ascii=False,
                indent=1,
                default=str,
            )
        )


if __name__ == "__main__":
    main()
