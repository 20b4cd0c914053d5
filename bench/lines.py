"""The same archive on each Datasette line, page by page: what moving from
0.65 to the 1.0 alphas costs or saves.

    make install && make install NEXT=1     # .venv (0.65) and .venv-next (1.0)
    .venv/bin/python bench/lines.py /tmp/hkcnews-bench/bundle/news.db

Serves the file twice with `python -m hkcnews.serve --workers 1` (one
process each, the bundle's settings): from .venv and from .venv-next. The
same HTML pages (their JSON differs between the lines) and one CSV go to
both, computed (the page cache passes requests with a cookie through), 21
times each after a warm-up, the two servers in turn. Prints medians in ms
and the median difference.
"""

import argparse
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from run import NAMED_SEARCHES, cpu_model, free_port, paired_ms, serving  # noqa: E402

LINES = {"0.65": ROOT / ".venv" / "bin" / "python", "1.0": ROOT / ".venv-next" / "bin" / "python"}


def version(python):
    return subprocess.run(
        [str(python), "-c", "from datasette.version import __version__; print(__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def pages(name, article_id):
    base = f"/{name}"
    searches = [(f"search {s}", f"{base}/articles?{urlencode({'_search': s})}") for s in [*NAMED_SEARCHES, "Reuters"]]
    return [
        ("articles table", f"{base}/articles"),
        *searches,
        ("filter category=眾聞", f"{base}/articles?{urlencode({'category': '眾聞'})}"),
        ("article page", f"{base}/articles/{article_id}"),
        ("canned search 國安法", f"{base}/search?{urlencode({'q': '國安法'})}"),
        ("figures table", f"{base}/figures"),
        ("/-/search 國安法", f"/-/search?{urlencode({'q': '國安法'})}"),
        ("trends, 3 terms", f"{base}/-/trends?{urlencode([('q', t) for t in ('香港', '政府', '警方')])}"),
        ("CSV of a search, first 50", f"{base}/articles.csv?{urlencode({'_search': '國安法', '_size': 50})}"),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("db", type=Path, help="a database build_db.py made")
    args = parser.parse_args()
    db = args.db.resolve()
    ports = {line: free_port() for line in LINES}
    commands = {
        line: [str(python), "-m", "hkcnews.serve", str(db), "--workers", "1", "--port", str(ports[line])]
        for line, python in LINES.items()
    }
    # One after the other: each writes the configuration files beside the database.
    with serving(commands["0.65"], ports["0.65"]) as old_url, serving(commands["1.0"], ports["1.0"]) as new_url:
        with httpx.Client(base_url=old_url, timeout=60) as old, httpx.Client(base_url=new_url, timeout=60) as new:
            article_id = old.get(f"/{db.stem}/articles.json", params={"_shape": "array", "_size": 1}).json()[0]["id"]
            print(f"{db}: {cpu_model()}; Datasette {version(LINES['0.65'])} and {version(LINES['1.0'])}")
            print("| page | 0.65, ms | 1.0, ms | 1.0 − 0.65, ms |")
            print("| --- | ---: | ---: | ---: |")
            for label, url in pages(db.stem, article_id):
                a, b, diff = paired_ms(old, new, url)
                print(f"| {label} | {a:.0f} | {b:.0f} | {-diff:+.0f} |")


if __name__ == "__main__":
    main()
