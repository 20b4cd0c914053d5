#!/usr/bin/env python
"""Build the archive's SQLite database from a folder of archived articles:
the design card's entry point, with the flags of ``hkcnews-build`` (see
hkcnews/build/cli.py; the build itself is hkcnews/build/).

    python build_db.py [--seeds DIR] [--db PATH] [--skip-invalid] [--full] [--workers N]
"""

import sys

# Scripts and tests call build() from here, as the design card names it.
from hkcnews.build import BuildFailed, build  # noqa: F401
from hkcnews.build.cli import main

if __name__ == "__main__":
    sys.exit(main())
