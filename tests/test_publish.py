"""Serving beyond one machine: docs/public.md's `datasette publish cloudrun`
command, run for real up to the cloud. A stand-in `gcloud` on PATH records
what Datasette asks of Google Cloud and keeps the build context it uploads,
so the test sees the image's Dockerfile and files; the wheel it installs is
then served from a clean folder to show that it carries the whole bundle."""

import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from hkcnews import config
from hkcnews.serve import SETTINGS
from hkcnews.serve.publish import deploy_lock, publish_args

from .helpers import ROOT
from .server import free_port

GCLOUD = """#!/bin/sh
echo "$*" >> "$GCLOUD_LOG"
case "$1 $2" in
  "config get-value") echo test-project ;;
  "builds submit") cp -r . "$GCLOUD_CONTEXT" ;;
esac
"""


def test_wheel_carries_the_plugin_and_its_templates(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for template in ("row.html", "_table.html", "_description_source_license.html"):
        assert f"hkcnews/site/templates/{template}" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "[datasette]\nhkcnews = hkcnews.site" in zipfile.ZipFile(wheel).read(entry_points).decode()


@pytest.mark.parametrize("line", ["0.65", "1.0"])
def test_readme_shows_the_publish_command(line):
    readme = (ROOT / "docs" / "public.md").read_text(encoding="utf-8")
    assert shlex.join(publish_args(line=line)) in re.sub(r" *\\\n *", " ", readme)


def test_publish_command_builds_an_image_served_as_make_serve_serves(tmp_path, wheel, seed_db):
    work = tmp_path / "work"
    (work / "dist").mkdir(parents=True)
    (work / "dist" / wheel.name).write_bytes(wheel.read_bytes())
    shutil.copy(deploy_lock(), work / "dist")
    config.write(work / "dist")
    (work / "news.db").write_bytes(seed_db.read_bytes())
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gcloud").write_text(GCLOUD)
    (bin_dir / "gcloud").chmod(stat.S_IRWXU)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "GCLOUD_LOG": str(tmp_path / "gcloud.log"),
        "GCLOUD_CONTEXT": str(tmp_path / "context"),
    }
    args = publish_args()
    args[0] = str(Path(sys.executable).with_name("datasette"))
    result = subprocess.run(args, cwd=work, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr

    context = tmp_path / "context"
    dockerfile = (context / "Dockerfile").read_text()
    # The deploy lock constrains every version pip picks, datasette's too.
    lock = deploy_lock()
    assert f"RUN pip install -U datasette -c /app/dist/{lock.name} /app/dist/{wheel.name}" in dockerfile
    assert (context / "dist" / lock.name).read_text() == lock.read_text()
    extra_options = args[args.index("--extra-options") + 1]
    assert (
        "CMD datasette serve --host 0.0.0.0 -i news.db --cors --inspect-file inspect-data.json "
        f"--metadata metadata.json --static dist:dist {extra_options} --setting force_https_urls on --port $PORT"
    ) in dockerfile
    assert (context / "dist" / wheel.name).read_bytes() == wheel.read_bytes()
    assert (context / "news.db").read_bytes() == seed_db.read_bytes()
    deploy = (tmp_path / "gcloud.log").read_text().splitlines()[-1]
    assert deploy.startswith("run deploy --allow-unauthenticated --platform=managed")
    assert deploy.endswith("hkcnews-archive --memory 2Gi --cpu 2 --max-instances 10 --min-instances 1")

    # What the image runs, minus the image: the wheel's code and templates,
    # not this checkout's, serving the copied files with the Dockerfile's CMD.
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    port = free_port()
    cmd = shlex.split(dockerfile.split("CMD ", 1)[1].replace("$PORT", str(port)).replace("0.0.0.0", "127.0.0.1"))
    from_wheel = {**os.environ, "PYTHONPATH": str(site)}
    loaded = subprocess.run(
        [sys.executable, "-c", "import hkcnews; print(hkcnews.__file__)"],
        cwd=context,
        env=from_wheel,
        capture_output=True,
        text=True,
    )
    assert loaded.stdout.strip() == str(site / "hkcnews" / "__init__.py")
    subprocess.run(
        [args[0], "inspect", "news.db", "--inspect-file", "inspect-data.json"], cwd=context, check=True, env=from_wheel
    )
    server = subprocess.Popen(
        [args[0], *cmd[1:]], cwd=context, env=from_wheel, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        for _ in range(100):
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/news/articles/39427", timeout=2)
                break
            except httpx.HTTPError:
                if server.poll() is not None:
                    pytest.fail(server.stderr.read().decode())
                time.sleep(0.2)
        assert page.status_code == 200
        assert '<article class="hkc-article">' in page.text
        plugins = httpx.get(f"http://127.0.0.1:{port}/-/plugins.json").json()
        (ours,) = [p for p in plugins if p["name"] == "hkcnews-archive"]
        assert ours["templates"] is True
        settings = httpx.get(f"http://127.0.0.1:{port}/-/settings.json").json()
        assert settings["sql_time_limit_ms"] == int(SETTINGS["sql_time_limit_ms"])
    finally:
        server.terminate()
        server.wait(10)
