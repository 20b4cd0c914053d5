"""Whole downloads kept on disk, so that one asked again is read at the
speed of the disk instead of computed again.

A table's whole result is a function of the query the table page runs and
of the database file, which does not change while it is served: two
requests with the same export spec (hkcnews/site/whole_downloads.py; its
SQL and parameters come from Datasette after its permission checks for
each reader) and the same file get the same bytes. So the bytes of each
download are written to a file as they are sent; once complete, that file
answers every later request for them, with no turn in the queue. A request
for a download that another request is writing follows it, reading the
file as it grows: twenty readers of one broad search cost one export.

The files are in the folder of the server's downloads (download_queue.py:
every process of a server shares it), at most MAX_BYTES of them, the least
recently read removed first; a file being read when it is removed is read
to its end all the same. A download that fails is never kept.

Written here: Datasette keeps nothing between requests, and the page cache
keeps pages in memory, up to a few megabytes each.
"""

import asyncio
import fcntl
import hashlib
import json
import os

from hkcnews.site.download_queue import downloads_folder

MAX_BYTES = 4 * 1024**3
READ_BYTES = 1024 * 1024
POLL_SECONDS = 0.05


class Kept:
    """The files of one download: ``done`` once complete, ``partial`` while
    it is written, ``lock`` held by the request writing it."""

    def __init__(self, datasette, path, spec):
        state = os.stat(path)
        identity = [state.st_dev, state.st_ino, state.st_size, state.st_mtime_ns]
        key = hashlib.sha256(json.dumps([identity, spec], sort_keys=True).encode()).hexdigest()
        self.folder = os.path.join(downloads_folder(datasette), "kept")
        os.makedirs(self.folder, exist_ok=True)
        self.done, self.partial, self.lock = (
            os.path.join(self.folder, f"{key}.{end}") for end in ("done", "partial", "lock")
        )
        self._lock_fd = None

    def writing(self):
        """Whether another request is writing this download now."""
        fd = os.open(self.lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return False
        except BlockingIOError:
            return True
        finally:
            os.close(fd)

    def start_writing(self):
        """The file to write the download to, or None when another request
        has started writing it first (follow it) or it is now complete."""
        fd = os.open(self.lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        if os.path.exists(self.done):
            os.close(fd)
            return None
        self._lock_fd = fd
        return open(self.partial, "wb")

    def finish_writing(self, file, complete):
        """Keeps the file written if the download is ``complete``, else removes it."""
        file.close()
        try:
            if complete:
                os.replace(self.partial, self.done)
                _keep_within(self.folder, MAX_BYTES)
            else:
                os.unlink(self.partial)
        finally:
            os.close(self._lock_fd)  # which releases the lock
            self._lock_fd = None

    async def pieces(self):
        """The bytes of the download, complete or being written, as they can
        be read. Raises Incomplete when the request writing it fails."""
        loop = asyncio.get_running_loop()
        try:
            file = open(self.done, "rb")
            os.utime(self.done)  # read last: removed last
            written = True
        except FileNotFoundError:
            file = await self._opened_partial()
            written = False
        with file:
            while True:
                piece = await loop.run_in_executor(None, file.read, READ_BYTES)
                if piece:
                    yield piece
                elif written:
                    return
                elif not self.writing():
                    # Renamed when complete: the same file, read to its end.
                    written = True
                    if not os.path.exists(self.done):
                        raise Incomplete(f"{self.partial}: the download it follows failed")
                else:
                    await asyncio.sleep(POLL_SECONDS)

    async def _opened_partial(self):
        while True:
            try:
                return open(self.partial, "rb")
            except FileNotFoundError:
                if os.path.exists(self.done):
                    return open(self.done, "rb")
                if not self.writing():
                    raise Incomplete(f"{self.partial}: the download it follows failed") from None
                await asyncio.sleep(POLL_SECONDS)


class Incomplete(Exception):
    """A download followed whose writer failed."""


def _keep_within(folder, limit):
    # The least recently read first out.
    done = []
    for entry in os.scandir(folder):
        if entry.name.endswith(".done"):
            state = entry.stat()
            done.append((state.st_mtime_ns, state.st_size, entry.path))
    total = sum(size for _, size, _ in done)
    for _, size, path in sorted(done):
        if total <= limit:
            break
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        total -= size
