"""`datasette serve` as a deployment runs it, on a free loopback port."""
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`python -m hkcnews.serve DB` (the command `make serve` runs) on a
    free loopback port, stopped on exit."""

    def __init__(self, db):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = Path(db).with_suffix(".serve.log")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hkcnews.serve", str(db), "--port", str(self.port)],
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
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
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
