"""What the month chart of a search costs, and how fast the trends page is,
on a database build_db.py made (bench/run.py builds one from 100,000 files
shaped like the backup).

    python bench/coverage.py /tmp/hkcnews-bench/bundle/news.db

Serves the file twice, one process each, with the bundle's settings: with
metadata.yml, and as the bundle was before the chart: a copy of
metadata.yml without the month facet, and Datasette's own year facet in
place of the one summed from the chart's months. The same search and
filter pages go to both, computed (the page cache passes
requests with a cookie through), 21 times each after a warm-up, the two
servers in turn; then the trends page with 1, 3 and 5 common terms, and
its CSV, 7 times each. Prints medians in ms and the median difference.
"""

import argparse
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlencode

import httpx

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from run import BIN, NAMED_SEARCHES, cpu_model, free_port, paired_ms, serving, timings  # noqa: E402

from hkcnews import config  # noqa: E402
from hkcnews.serve import datasette_args, ensure_inspected  # noqa: E402

FILTERS = [{"category": "眾聞"}, {"category": "眾評"}, {"year": "2021"}]
MORE_SEARCHES = ["國安法", "警方", "Reuters"]
TREND_TERMS = ["香港", "政府", "警方", "中國", "國安法"]
REPEATS = 7


def without_month_facet():
    metadata = config.load()
    for database in metadata["databases"].values():
        table = database["tables"]["articles"]
        table["facets"] = [f for f in table["facets"] if f != {"month": "date"}]
    return metadata


# `datasette serve` with the plugin's year facet swapped back for Datasette's.
BEFORE_THE_CHART = """
import sys
from datasette.cli import cli
from datasette.facets import ColumnFacet
import hkcnews.site.facets
hkcnews.site.facets.ARCHIVE_FACETS[ColumnFacet] = ColumnFacet
cli(sys.argv[1:])
"""


def median_ms(client, url):
    """bench/run.py's timing of one page asked REPEATS times, computed."""
    timed = timings(client, [url] * REPEATS)
    assert timed["status"] == {200}, (url, timed["status"])
    return timed["median"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("db", type=Path, help="a database build_db.py made")
    args = parser.parse_args()
    db = args.db.resolve()
    ensure_inspected(db, str(BIN / "datasette"))
    name = db.stem
    pages = [("search " + s, {"_search": s}) for s in NAMED_SEARCHES + MORE_SEARCHES]
    pages += [("filter " + ", ".join(f"{k}={v}" for k, v in f.items()), f) for f in FILTERS]
    with tempfile.TemporaryDirectory() as folder:
        ports = {"chart": free_port(), "no chart": free_port()}
        servers = {
            "chart": [str(BIN / "datasette"), *datasette_args(db, port=ports["chart"])],
            "no chart": [
                sys.executable,
                "-c",
                BEFORE_THE_CHART,
                *datasette_args(db, port=ports["no chart"], metadata=without_month_facet(), folder=folder),
            ],
        }
        with (
            serving(servers["chart"], ports["chart"]) as with_url,
            serving(servers["no chart"], ports["no chart"]) as without_url,
        ):
            with (
                httpx.Client(base_url=with_url, timeout=60) as chart,
                httpx.Client(base_url=without_url, timeout=60) as plain,
            ):
                print(f"{db}: {cpu_model()}")
                print("| page | with chart, ms | before the chart, ms | chart adds, ms |")
                print("| --- | ---: | ---: | ---: |")
                for label, params in pages:
                    url = f"/{name}/articles?{urlencode(params)}"
                    w, wo, diff = paired_ms(chart, plain, url)
                    print(f"| {label} | {w:.0f} | {wo:.0f} | {diff:+.0f} |")
                print()
                print("| trends page | ms | CSV, ms |")
                print("| --- | ---: | ---: |")
                for count in (1, 3, 5):
                    query = urlencode([("q", t) for t in TREND_TERMS[:count]])
                    page = median_ms(chart, f"/{name}/-/trends?{query}")
                    csv = median_ms(chart, f"/{name}/-/trends.csv?{query}")
                    print(
                        f"| {count} term{'s' if count > 1 else ''} ({', '.join(TREND_TERMS[:count])}) | {page:.0f} | {csv:.0f} |"
                    )


if __name__ == "__main__":
    main()
