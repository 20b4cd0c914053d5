"""The worker processes of a public instance: hkcnews/serve/asgi.py under
uvicorn, N processes on one listening socket, each replaced when it dies."""

import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import threading
import time


def listening_socket(host, port):
    # uvicorn makes its shared socket with protocol 0, so asyncio does not
    # set TCP_NODELAY on the connections it accepts, and a keep-alive client
    # waited 40 ms (Nagle's algorithm against delayed ACKs) for a 7 ms
    # article page. A socket made as IPPROTO_TCP gets it.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


# More deaths than this within CRASH_WINDOW seconds is a crash loop.
MAX_DEATHS, CRASH_WINDOW = 5, 60


def run_worker(sock, host, port, ready):
    """One worker process: hkcnews/serve/asgi.py under uvicorn on the shared
    socket; sets ``ready`` once it takes requests."""
    import uvicorn

    class Worker(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets=sockets)
            if self.started:
                ready.set()

    Worker(uvicorn.Config("hkcnews.serve.asgi:app", host=host, port=port, lifespan="on")).run(sockets=[sock])


def why_it_stopped(exitcode):
    """A worker's exit status in words."""
    if exitcode < 0:
        name = signal.Signals(-exitcode).name
        cause = " (as the kernel's out-of-memory killer does)" if name == "SIGKILL" else ""
        return f"was killed by {name}{cause}"
    return f"exited with status {exitcode}"


def serve_in_workers(sock, host, port, workers):
    """hkcnews/serve/asgi.py in ``workers`` processes sharing one socket, until
    SIGINT or SIGTERM (returns 0). A worker that dies is replaced, and
    stderr says which and why; the others go on answering, and the socket
    stays open. Returns 1 when a worker cannot start, or when workers keep
    dying (more than MAX_DEATHS in CRASH_WINDOW seconds).

    Written here rather than with uvicorn's --workers supervisor because
    that one restarts a worker that dies, forever: a worker that could not
    start (a Datasette the plugin does not support, say) was restarted two
    or three times a second for as long as anyone let it, and nothing
    exited or said why.
    """
    context = multiprocessing.get_context("spawn")
    # glibc gives each of a worker's SQL threads a malloc arena of its own;
    # pages freed in one are not reused by another, and a worker's memory
    # grew with the pages it had served. Two arenas keep it flat.
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")

    def start():
        ready = context.Event()
        process = context.Process(target=run_worker, args=(sock, host, port, ready))
        process.ready = ready
        process.start()
        return process

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    processes = [start() for _ in range(workers)]
    deaths, failure = [], None
    while not stop.is_set() and failure is None:
        multiprocessing.connection.wait([p.sentinel for p in processes], timeout=0.5)
        if stop.is_set():
            break  # workers that stop on the same Ctrl-C as this process did not die
        for i, process in enumerate(processes):
            if process.exitcode is None:
                continue
            why = why_it_stopped(process.exitcode)
            now = time.monotonic()
            deaths = [t for t in deaths if now - t < CRASH_WINDOW] + [now]
            # An error before it took requests would recur; a signal (the
            # out-of-memory killer, an operator) need not.
            if not process.ready.is_set() and process.exitcode > 0:
                failure = f"worker {i + 1} (pid {process.pid}) could not start: it {why}, its error above"
                break
            if len(deaths) > MAX_DEATHS:
                failure = f"{len(deaths)} workers died within {CRASH_WINDOW} s; the last, worker {i + 1} (pid {process.pid}), {why}"
                break
            print(
                f"hkcnews.serve: worker {i + 1} (pid {process.pid}) {why}; starting another",
                file=sys.stderr,
                flush=True,
            )
            processes[i] = start()
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(10)
        if process.exitcode is None:
            process.kill()
            process.join()
    if failure:
        print(f"hkcnews.serve: {failure}; stopped the others", file=sys.stderr)
        return 1
    return 0
