import shutil
import subprocess
import sys

import pytest
from datasette.plugins import pm
from hypothesis import settings

from build_db import build

from . import started
from .browser import CHROMIUM, CHROMIUM_ARGS, OFF_MACHINE, Watcher, require_chromium, stay_on_loopback
from .helpers import CORPUS, FUZZ, HOSTILE, ROOT, SEEDS, datasette_for, not_for_the_wheel, seeds_with
from .language import FILES as LANGUAGE_FILES
from .server import Server

# The property tests draw the same examples on every run (a red CI means a
# change broke something, not that a new example was drawn); `make fuzz`
# explores with fresh random seeds. What they find becomes an @example.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("fuzz", derandomize=False, print_blob=True)
settings.load_profile("fuzz" if FUZZ else "ci")


pm.register(started, name="tests.started")


@pytest.fixture(autouse=True)
def end_each_tests_datasette_threads():
    yield
    started.release_all()


# What `make test-fast` leaves out: tests that start a server, a browser or a
# virtual environment, build a corpus of their own, or run a thousand queries.
SLOW_MODULES = {
    "test_archive",
    "test_browser",
    "test_browser_research",
    "test_browser_language",
    "test_fuzz",
    "test_hostile_queries",
    "test_interruption",
    "test_package",
    "test_public",
    "test_publish",
    "test_search_download",
    "test_serving",
}


# And the tests of a fixture that generates a corpus of its own.
SLOW_FIXTURES = {"generated"}


def pytest_collection_modifyitems(items):
    for item in items:
        slow_module = item.module.__name__.rsplit(".", 1)[-1] in SLOW_MODULES
        if slow_module or SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def seed_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("seed") / "news.db"
    build(SEEDS, db)
    return db


@pytest.fixture(scope="session")
def corpus_db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    db = folder / "news.db"
    build(seeds_with(folder, CORPUS), db)
    return db


@pytest.fixture(scope="session")
def archive_db(tmp_path_factory):
    """The seed, the corpus and the hostile article, in a file not called
    news.db: metadata.yml must apply whatever the file is called."""
    folder = tmp_path_factory.mktemp("archive")
    db = folder / "archive.db"
    build(seeds_with(folder, {**CORPUS, **HOSTILE}), db)
    return db


@pytest.fixture(scope="session")
def language_db(tmp_path_factory):
    """The seed and the articles of tests/language.py."""
    folder = tmp_path_factory.mktemp("language")
    db = folder / "news.db"
    build(seeds_with(folder, LANGUAGE_FILES), db)
    return db


@pytest.fixture
def seed_ds(seed_db):
    return datasette_for(seed_db)


@pytest.fixture
def ds(corpus_db):
    return datasette_for(corpus_db)


# The browser tests: a real Chromium against `python -m hkcnews.serve`.
@pytest.fixture(scope="module")
def server(archive_db):
    server = Server(archive_db).wait()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(base_url=server.url, accept_downloads=True, viewport={"width": 1200, "height": 900})
    context.route(OFF_MACHINE, stay_on_loopback)
    page = context.new_page()
    page.watcher = Watcher(page)
    yield page
    context.close()


@pytest.fixture(scope="session")
def wheel(tmp_path_factory):
    """This package's wheel, as `pip wheel` builds it from a copy of the checkout."""
    source = tmp_path_factory.mktemp("source") / "repository"
    shutil.copytree(ROOT, source, ignore=not_for_the_wheel)
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(source)],
        check=True,
        capture_output=True,
    )
    (built,) = dist.glob("*.whl")
    return built
