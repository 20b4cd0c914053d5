import pytest
from hypothesis import settings

from build_db import build

from .helpers import CORPUS, FUZZ, HOSTILE, SEEDS, datasette_for, seeds_with

# The property tests draw the same examples on every run (a red CI means a
# change broke something, not that a new example was drawn); `make fuzz`
# explores with fresh random seeds. What they find becomes an @example.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("fuzz", derandomize=False, print_blob=True)
settings.load_profile("fuzz" if FUZZ else "ci")


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


@pytest.fixture
def seed_ds(seed_db):
    return datasette_for(seed_db)


@pytest.fixture
def ds(corpus_db):
    return datasette_for(corpus_db)
