"""The served archive as an ASGI app, for `uvicorn --workers N`.

One Datasette process renders pages on one core at a time (Python's GIL;
only its SQL runs in parallel): under load on two cores it used 1.2 of
them. ``python -m hkcnews.serve --workers N`` runs N processes of this
module, each the same Datasette that `datasette serve -i DB --inspect-file
… -m metadata.yml --setting …` builds, for the database hkcnews.serve names
in the environment variable HKCNEWS_DB.
"""

import json
import os

from hkcnews import config
from hkcnews.config import with_public_url
from hkcnews.internals import served_datasette
from hkcnews.serve import DB_VARIABLE, PUBLIC_URL_VARIABLE, SETTINGS, inspect_file


def archive_datasette(db):
    """Datasette over an immutable database with the bundle's metadata,
    row counts and settings."""
    # As `datasette serve --setting` reads them: on/off as booleans, digits
    # as numbers (every value SETTINGS has). Written here rather than with
    # datasette.cli's Setting type, which is no plugin API.
    settings = {name: value == "on" if value in ("on", "off") else int(value) for name, value in SETTINGS.items()}
    metadata = with_public_url(config.load(), os.environ.get(PUBLIC_URL_VARIABLE))
    return served_datasette(db, json.loads(inspect_file(db).read_text()), settings, **config.datasette_kwargs(metadata))


if DB_VARIABLE in os.environ:
    app = archive_datasette(os.environ[DB_VARIABLE]).app()
