"""The package works where it is installed: the wheel, in a virtual
environment of its own, builds and serves an archive from a folder outside
the checkout, its metadata and templates read from the installed package."""

import json
import os
import shutil
import subprocess
import sys
import urllib.request

import pytest

from hkcnews.serve.publish import deploy_lock

from .helpers import ROOT, SEEDS, not_for_the_wheel
from .server import Server


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """A fresh virtual environment with the deploy lock and the wheel, and an
    empty folder far from the checkout to work in."""
    venv = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "-r", str(deploy_lock())], check=True)
    subprocess.run([*pip, "--no-deps", str(wheel)], check=True)
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    shutil.copytree(SEEDS, elsewhere / "articles")
    return venv / "bin", elsewhere


def run(bin_dir, elsewhere, *command):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(bin_dir / command[0]), *command[1:]], cwd=elsewhere, env=env, capture_output=True, text=True
    )


def test_the_installed_build_command_builds_an_archive(installed):
    bin_dir, elsewhere = installed
    result = run(bin_dir, elsewhere, "hkcnews-build", "--seeds", "articles", "--db", "news.db")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("news.db: 1 files: 1 articles")


@pytest.mark.parametrize("how", ["datasette serve", "python -m hkcnews.serve"])
def test_the_installed_package_serves_a_chinese_search(installed, how):
    bin_dir, elsewhere = installed
    if not (elsewhere / "news.db").exists():
        assert run(bin_dir, elsewhere, "hkcnews-build", "--seeds", "articles", "--db", "news.db").returncode == 0
    command = ["datasette", "serve"] if how == "datasette serve" else ["python", "-m", "hkcnews.serve"]
    server = Server(elsewhere / "news.db", command=[str(bin_dir / command[0]), *command[1:]], cwd=elsewhere).wait()
    try:
        # 会谈, simplified, finds the seed's 會談: the installed plugin's search.
        url = server.url + "/news/articles.json?_shape=array&_col=title&_search=%E4%BC%9A%E8%B0%88"
        with urllib.request.urlopen(url, timeout=30) as response:
            titles = [row["title"] for row in json.loads(response.read())]
        with urllib.request.urlopen(server.url + "/news/articles/39427", timeout=30) as response:
            page = response.read().decode("utf-8")
    finally:
        server.stop()
    assert titles == ["中美阿拉斯加會談首日激烈交鋒　布林肯提香港、台灣　楊潔篪斥美方「居高臨下」"]
    # The archive's own article template, from the installed package.
    assert '<article class="hkc-article"' in page


def test_python_m_build_makes_a_wheel_and_an_sdist_that_install(installed, wheel, tmp_path):
    source = tmp_path / "repository"
    shutil.copytree(ROOT, source, ignore=not_for_the_wheel)
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(dist), str(source)], check=True, capture_output=True)
    (sdist,) = dist.glob("*.tar.gz")
    (built_wheel,) = dist.glob("*.whl")
    # The environment of the other tests, which has the deploy lock's
    # dependencies: each file in turn in place of its wheel, then that again.
    python = str(installed[0] / "python")
    try:
        for built in (sdist, built_wheel):
            subprocess.run(
                [python, "-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps", str(built)], check=True
            )
            found = subprocess.run(
                [python, "-c", "import hkcnews.config as c, hkcnews.site; print(c.METADATA.read_text()[:10])"],
                cwd=tmp_path,
                capture_output=True,
                text=True,
                check=True,
            )
            assert found.stdout.startswith("title: 眾新聞"), built.name
    finally:
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps", str(wheel)], check=True
        )
