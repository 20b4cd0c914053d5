"""The served archive as an ASGI app, for `uvicorn --workers N`.

One Datasette process renders pages on one core at a time (Python's GIL;
only its SQL runs in parallel): under load on two cores it used 1.2 of
them. ``python -m hkcnews.serve --workers N`` runs N processes of this
module, each the same Datasette that `datasette serve -i DB --inspect-file
… -m metadata.yml --setting …` builds, from the three environment variables
below, which hkcnews.serve sets.
"""
import json
import os
from pathlib import Path

from datasette.app import Datasette
from datasette.cli import Setting
from datasette.utils import parse_metadata

from .serve import SETTINGS

DB, METADATA, INSPECT = "HKCNEWS_DB", "HKCNEWS_METADATA", "HKCNEWS_INSPECT_FILE"


def archive_datasette(db, metadata, inspect_file):
    """Datasette over an immutable database with the bundle's settings."""
    settings = dict(Setting().convert((name, value), None, None) for name, value in SETTINGS.items())
    return Datasette(
        immutables=[str(db)],
        inspect_data=json.loads(Path(inspect_file).read_text()),
        metadata=parse_metadata(Path(metadata).read_text(encoding="utf-8")),
        settings=settings,
    )


if DB in os.environ:
    app = archive_datasette(os.environ[DB], os.environ[METADATA], os.environ[INSPECT]).app()
