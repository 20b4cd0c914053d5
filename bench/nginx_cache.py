#!/usr/bin/env python
"""Pages through nginx's proxy_cache beside the same pages asked directly,
on loopback only.

    python bench/nginx_cache.py [--db /work/bench-data/base.db] [--requests 30]

Serves the database with `python -m hkcnews.serve` on one loopback port and
Debian's nginx (`apt-get install nginx-light` when it is missing and this
runs as root) on two more, with the proxy_cache configuration of
docs/public.md: one as documented, which keeps pages as their
Cache-Control says (a day), and one that keeps them a second only
(`proxy_ignore_headers Cache-Control`, `proxy_cache_valid 200 1s`) to
measure a revalidation, the conditional GET nginx sends once a page has
expired, which the archive answers 304 without computing the page
(hkcnews/site/validators.py). Each page is asked --requests times in a
row per way, after one request that fills the caches; the median and p95
are printed as a Markdown table, with nginx's X-Cache-Status. Stops its
servers and removes its files when done, whatever happens.
"""

import argparse
import grp
import os
import pwd
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from run import cpu_model, free_port, serving  # noqa: E402

BASE_DB = Path("/work/bench-data/base.db")
BASE_LOG = Path("/tmp/build50k.log")
SAMPLE_SEEDS = ROOT.parent / "shared" / "hkcnews-sample" / "articles"
SAMPLE_DB = Path("/tmp/sample.db")
# The page cache of hkcnews.serve passes requests with a cookie by
# (hkcnews/site/cache.py): sent to time a page computed every time.
COMPUTE = {"cookie": "bench=computed"}
REVALIDATIONS = 3

NGINX_CONF = """
{user}
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    proxy_cache_path {tmp}/cache levels=1:2 keys_zone=hkcnews:10m max_size=1g inactive=1d use_temp_path=off;
    proxy_cache_path {tmp}/short levels=1:2 keys_zone=short:10m max_size=1g inactive=1d use_temp_path=off;
    upstream archive {{
        server 127.0.0.1:{upstream};
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
{locations}
    }}
    server {{
        listen 127.0.0.1:{short_port};
{short_locations}
    }}
}}
"""

# As docs/public.md gives it.
LOCATIONS = """
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        location / {{
            proxy_pass http://archive;
            proxy_cache {zone};
            proxy_cache_key $scheme$host$request_uri;
            proxy_cache_revalidate on;
            proxy_cache_valid 404 1m;
            proxy_cache_lock on;{stale}
            add_header X-Cache-Status $upstream_cache_status always;{extra}
        }}
        location ~ \\.(csv|jsonl|db)$ {{
            proxy_pass http://archive;
            proxy_buffering off;
            proxy_cache off;
        }}
"""
# Readers get the kept page while nginx asks again, in the background.
STALE = """
            proxy_cache_use_stale updating error timeout http_502 http_503 http_504;
            proxy_cache_background_update on;"""
# Kept a second, and asked again in the foreground, to time the revalidation.
SHORT = """
            proxy_ignore_headers Cache-Control Expires;
            proxy_cache_valid 200 1s;"""


def database(asked):
    """The database to serve: --db, the 50,000-file build when it is done,
    else the sample, built once."""
    if asked:
        return asked
    if BASE_DB.exists() and BASE_LOG.exists() and "done" in BASE_LOG.read_text(errors="replace"):
        return BASE_DB
    if not SAMPLE_DB.exists():
        build = [sys.executable, str(ROOT / "build_db.py"), "--seeds", str(SAMPLE_SEEDS), "--db", str(SAMPLE_DB)]
        subprocess.run(build, check=True)
    return SAMPLE_DB


def nginx_binary():
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "nginx-light"], check=True, env=env, stdout=subprocess.DEVNULL)
        found = "/usr/sbin/nginx"
    if found is None:
        raise SystemExit("nginx is not installed: apt-get install nginx-light")
    return found


FOLDERS = ("body", "proxy", "fastcgi", "uwsgi", "scgi", "cache", "short")


def own_folders(tmp):
    """nginx's user line: run as root, its workers are nobody, who must
    write its cache and temporary folders."""
    for name in FOLDERS:
        (tmp / name).mkdir()
    if os.geteuid() != 0:
        return ""
    nobody = pwd.getpwnam("nobody")
    tmp.chmod(0o755)
    for name in FOLDERS:
        os.chown(tmp / name, nobody.pw_uid, nobody.pw_gid)
    return f"user nobody {grp.getgrgid(nobody.pw_gid).gr_name};"


def pages(db):
    name = quote(db.stem)
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        article = conn.execute("select id from articles order by date desc limit 1").fetchone()[0]
        tag = conn.execute("select name from tags order by article_count desc limit 1").fetchone()[0]
    finally:
        conn.close()
    return [
        ("home page", "/"),
        ("articles table", f"/{name}/articles"),
        ("search 香港", f"/{name}/articles?_search={quote('香港')}"),
        ("search 的 (nearly every article)", f"/{name}/articles?_search={quote('的')}"),
        ("articles with a tag", f"/{name}/articles?tags__arraycontains={quote(tag)}"),
        ("article page", f"/{name}/articles/{article}"),
    ]


def timed(client, path, count, headers=None):
    """(median ms, p95 ms, the X-Cache-Status and status codes seen) of
    ``count`` requests in a row."""
    times, seen = [], set()
    for _ in range(count):
        start = time.perf_counter()
        response = client.get(path, headers=headers or {})
        times.append((time.perf_counter() - start) * 1000)
        seen.add(f"{response.status_code} {response.headers.get('x-cache-status', '')}".strip())
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.95))], ", ".join(sorted(seen))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path)
    parser.add_argument("--requests", type=int, default=30, help="requests per page and way (at most 200)")
    parser.add_argument("--workers", type=int, default=1, help="hkcnews.serve worker processes")
    args = parser.parse_args()
    count = max(1, min(args.requests, 200))
    db = database(args.db)
    nginx = nginx_binary()
    tmp = Path(tempfile.mkdtemp(prefix="hkcnews-nginx-"))
    proxy = None
    try:
        upstream, port, short_port = free_port(), free_port(), free_port()
        conf = NGINX_CONF.format(
            user=own_folders(tmp),
            tmp=tmp,
            upstream=upstream,
            port=port,
            short_port=short_port,
            locations=LOCATIONS.format(zone="hkcnews", stale=STALE, extra=""),
            short_locations=LOCATIONS.format(zone="short", stale="", extra=SHORT),
        )
        (tmp / "nginx.conf").write_text(conf)
        check = subprocess.run([nginx, "-t", "-p", str(tmp), "-c", str(tmp / "nginx.conf")], capture_output=True)
        if check.returncode:
            raise SystemExit(check.stderr.decode(errors="replace"))
        serve = [
            sys.executable,
            "-m",
            "hkcnews.serve",
            str(db),
            "--port",
            str(upstream),
            "--workers",
            str(args.workers),
        ]
        with serving(serve, upstream) as direct_url:
            proxy = subprocess.Popen(
                [nginx, "-p", str(tmp), "-c", str(tmp / "nginx.conf")],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            cached_url, short_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{short_port}"
            for url in (cached_url, short_url):
                for _ in range(100):
                    try:
                        httpx.get(url + "/-/versions.json", timeout=1)
                        break
                    except httpx.HTTPError:
                        time.sleep(0.05)
            print(
                f"\n{db} on {cpu_model()}, {os.cpu_count()} cores; hkcnews.serve with {args.workers} worker(s), "
                f"{subprocess.getoutput(nginx + ' -v 2>&1').split('/')[-1]}; {count} requests per page and way, "
                "medians and p95 in ms\n"
            )
            print(
                "| page | computed (cookie, 5 requests) | direct, page cache | direct, 304 | nginx HIT | nginx, 304 | "
                "nginx after expiry (revalidated, 3 requests) |"
            )
            print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
            with (
                httpx.Client(base_url=direct_url, timeout=60) as direct,
                httpx.Client(base_url=cached_url, timeout=60) as cached,
                httpx.Client(base_url=short_url, timeout=60) as short,
            ):
                for label, path in pages(db):
                    # Each way's own tag: the home page's names the Host it was asked with.
                    tag = direct.get(path).headers.get("etag", "")
                    proxied_tag = cached.get(path).headers.get("etag", "")
                    short.get(path)
                    ways = [
                        timed(direct, path, min(count, 5), COMPUTE),
                        timed(direct, path, count),
                        timed(direct, path, count, {"if-none-match": tag}),
                        timed(cached, path, count),
                        timed(cached, path, count, {"if-none-match": proxied_tag}),
                    ]
                    # Each once the short cache's second has passed (nginx counts
                    # whole seconds): nginx asks the archive with If-None-Match
                    # and keeps its copy on a 304.
                    revalidated = []
                    for _ in range(REVALIDATIONS):
                        time.sleep(2.05)
                        revalidated.append(timed(short, path, 1))
                    ways.append(
                        (
                            statistics.median(r[0] for r in revalidated),
                            max(r[1] for r in revalidated),
                            ", ".join(sorted({r[2] for r in revalidated})),
                        )
                    )
                    cells = [f"{median:.1f} / {p95:.1f} ({seen})" for median, p95, seen in ways]
                    print(f"| {label} | " + " | ".join(cells) + " |")
    finally:
        errors = (tmp / "error.log").read_text(errors="replace") if (tmp / "error.log").exists() else ""
        if errors.strip():
            print("\nnginx's error log:\n" + errors[-2000:], file=sys.stderr)
        if proxy is not None:
            os.killpg(proxy.pid, signal.SIGTERM)
            try:
                proxy.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proxy.pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
