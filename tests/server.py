"""`datasette serve` as a deployment runs it, on a free loopback port."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`python -m hkcnews.serve DB` (the command `make serve` runs) on a
    free loopback port, in a process group of its own so that stop() ends
    its workers too. With ``plain``, `datasette serve DB -m metadata.yml`
    and those extra arguments instead, as Datasette's documentation serves
    a database. ``options`` go to hkcnews.serve; ``command`` serves with
    another command (an installed one), from ``cwd``."""

    def __init__(self, db, plain=None, options=(), command=None, cwd=None):
        self.db = db
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = Path(db).with_suffix(".serve.log")
        if command is not None:
            command = [*command, str(db), *options]
        elif plain is None:
            command = [sys.executable, "-m", "hkcnews.serve", str(db), *options]
        else:
            datasette = Path(sys.executable).with_name("datasette")
            command = [str(datasette), "serve", str(db), "-m", str(ROOT / "metadata.yml"), *plain]
        self.process = subprocess.Popen(
            [*command, "--port", str(self.port)],
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=cwd,
        )

    def wait(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"datasette serve exited: {self.log.read_text()}")
            try:
                with urllib.request.urlopen(self.url + "/-/versions.json", timeout=1):
                    return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"datasette serve did not answer in {timeout} s: {self.log.read_text()}")

    def stop(self):
        """Stop the server and every process of its group, as a deployment's
        process manager would."""
        group = self.process.pid
        signal_group(group, signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + 10
        while group_alive(group) and time.monotonic() < deadline:
            time.sleep(0.1)
        signal_group(group, signal.SIGKILL)
        self.process.wait()


def group_alive(group):
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def signal_group(group, signum):
    """Send ``signum`` to every process of ``group``, if any is left."""
    try:
        os.killpg(group, signum)
    except ProcessLookupError:
        pass
