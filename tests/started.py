"""A plugin the tests register: every Datasette that a test started, so
that conftest.py releases its threads and connections with the test. Each
Datasette keeps SQL threads and a write thread for its internal database,
each with connections of its own, and every connection in the process
counts against the SQLite heap limit that hkcnews/site/limits.py sets for
a server's worker: the Datasettes of a thousand tests held 250 MB."""

import threading

from datasette import hookimpl
from datasette.database import WriteTask

STARTED = []


@hookimpl
def startup(datasette):
    STARTED.append(datasette)


class _End(BaseException):
    """Raised in a write thread, whose loop catches only Exception: it ends."""


def _end(conn):
    raise _End


def _ignoring_end(hook):
    def excepthook(args):
        if args.exc_type is not _End:
            hook(args)

    return excepthook


def release(datasette):
    """End a Datasette's threads, which closes their connections."""
    if hasattr(datasette, "close"):  # Datasette 1.0
        datasette.close()
        return
    # 0.65 has no close(): its write threads end on a task that raises _End
    # (pytest's own hook would report it), its SQL threads when its
    # executor shuts down.
    hook, threading.excepthook = threading.excepthook, _ignoring_end(threading.excepthook)
    try:
        for db in datasette.databases.values():
            if db._write_thread is not None and db._write_thread.is_alive():
                db._write_queue.put(WriteTask(_end, None, None))
                db._write_thread.join(timeout=10)
    finally:
        threading.excepthook = hook
    if datasette.executor is not None:
        datasette.executor.shutdown(wait=True)


def release_all():
    """release() every Datasette started since the last call."""
    while STARTED:
        release(STARTED.pop())
