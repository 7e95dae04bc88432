"""The embedded database: a SecantusDB server run as a child process.

Used when MONGODB_URI is unset. The first Parcours process on a data dir starts the server and
owns it; later processes (a second `parcours run`, `parcours worker`, a CLI command) find it
through the port file and reuse it. A small watcher process (`embedded_watch.py`) stops the
server if its owner dies without doing so. SecantusDB is GPL-2.0: we only ever talk to it over the
wire, never import it.
"""

import atexit
import contextlib
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pymongo
from pymongo.errors import PyMongoError

from app import embedded_watch

PORT_FILE = "secantus.json"
LOCK_FILE = "secantus.lock"
LOG_FILE = "secantus.log"
STORAGE_DIR = "db"
START_TIMEOUT = 30.0
WATCHER = Path(__file__).with_name("embedded_watch.py")
log = logging.getLogger(__name__)


class EmbeddedDatabaseError(RuntimeError):
    """The embedded server could not be started."""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers_ping(port, timeout_ms=500):
    client = pymongo.MongoClient(
        "127.0.0.1", port, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms
    )
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def _wait_for_exit(pid, timeout):
    deadline = time.monotonic() + timeout
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):  # Linux: a zombie is dead, just not reaped
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


class EmbeddedServer:
    """One SecantusDB process listening on 127.0.0.1."""

    def __init__(self, process, port, log_path, watcher=None):
        self.process = process
        self.port = port
        self.log_path = log_path
        self.watcher = watcher

    @property
    def uri(self):
        return client_uri(self.port)

    def uri_for(self, database):
        return client_uri(self.port, database)

    @classmethod
    def start(cls, storage_path, log_path, port=None, options=()):
        """Start the server; `options` are extra command-line flags (the benchmarks use them)."""
        port = port or free_port()
        server = cls._spawn(storage_path, log_path, port, options)
        server._wait_until_ready()
        return server

    def restart(self, timeout=60):
        """Stop (if it still runs) and start again on the same port and files; clients
        reconnect by themselves."""
        self.stop(timeout)
        fresh = self._spawn(self.storage_path, self.log_path, self.port, self.options)
        fresh._wait_until_ready()
        self.process, self.watcher = fresh.process, fresh.watcher

    @classmethod
    def _spawn(cls, storage_path, log_path, port, options):
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "secantus", "--host", "127.0.0.1", "--port", str(port)]
        command += ["--storage-path", str(storage_path), "--log-level", "WARNING", *options]
        # Own sessions: a Ctrl-C in the terminal reaches the owner only, which stops the
        # server once; two signals could run SecantusDB's stop twice over. The watcher's
        # output goes to the log too: a reader of the owner's pipes must not wait for it.
        with open(log_path, "ab") as log:
            process = subprocess.Popen(  # noqa: S603 - fixed command, no user input
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            server = cls(process, port, log_path)
            try:
                server.watcher = subprocess.Popen(  # noqa: S603 - fixed command
                    [sys.executable, str(WATCHER), str(os.getpid()), str(process.pid)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError:
                server.stop()  # no server left behind that nobody would stop
                raise
        server.storage_path, server.options = storage_path, tuple(options)
        return server

    def _wait_until_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                raise EmbeddedDatabaseError(
                    f"SecantusDB exited with code {self.process.returncode}; "
                    f"see {self.log_path}:\n{self._log_tail()}"
                )
            if answers_ping(self.port, timeout_ms=200):
                return
            time.sleep(0.05)
        self.stop()
        raise EmbeddedDatabaseError(f"SecantusDB did not answer within {START_TIMEOUT:.0f} s")

    def _log_tail(self):
        with contextlib.suppress(OSError):
            return Path(self.log_path).read_text(errors="replace")[-2000:]
        return ""

    def stop(self, timeout=10):
        """SIGTERM, so that the storage closes cleanly; SIGKILL after `timeout`."""
        if self.process.poll() is None:
            embedded_watch.terminate(self.process.pid)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.watcher is not None:  # it ends by itself once the server is gone
            try:
                self.watcher.wait(timeout)
            except subprocess.TimeoutExpired:
                self.watcher.kill()
                self.watcher.wait()


@contextlib.contextmanager
def _locked(path):
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_port_file(path):
    try:
        info = json.loads(path.read_text())
        return int(info["port"]), int(info["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


_owned = {}
_owning = threading.Lock()  # the keeper's restart and the owner's stop, one at a time


def _forget_in_child():
    """A forked child (a gunicorn worker) uses its parent's server; it never owns it."""
    global _owning
    _owned.clear()
    _owning = threading.Lock()  # it may have been held by the keeper at the fork


os.register_at_fork(after_in_child=_forget_in_child)


def client_uri(port, database=""):
    """How clients connect to the server on `port`: without retryable writes. SecantusDB
    records each retryable write and scans every record at each write (O(n), a sort past
    10,000; py-spy: 78 % of the server's time): README, "Queries on the embedded database".
    One server on loopback has no failover for a retry to ride on."""
    return f"mongodb://127.0.0.1:{port}/{database}?retryWrites=false"


def ensure_server(data_dir, options=()):
    """Return the URI of the data dir's server, starting it (with `options`, its command
    line's) if no live one answers."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    port_file = data_dir / PORT_FILE
    with _locked(data_dir / LOCK_FILE):
        found = _read_port_file(port_file)
        if found:
            port, pid = found
            if _pid_alive(pid) and answers_ping(port):
                return client_uri(port)
            if _owner_restarts(port_file, port):
                return client_uri(port)
            # Stale. A server still alive but not answering is stopping (its owner died): it
            # holds the storage until it is gone.
            _wait_for_exit(pid, START_TIMEOUT)
            port_file.unlink(missing_ok=True)
        server = EmbeddedServer.start(data_dir / STORAGE_DIR, data_dir / LOG_FILE, options=options)
        port_file.write_text(
            json.dumps({"port": server.port, "pid": server.process.pid, "owner": os.getpid()})
        )
    server.owner = os.getpid()  # a forked child (a gunicorn worker) inherits it, not owns it
    _owned[str(data_dir)] = server
    atexit.register(_stop_owned, data_dir)
    _stop_on_sigterm()
    threading.Thread(target=_keep, args=(data_dir, server), daemon=True,
                     name="embedded-keeper").start()  # fmt: skip
    return server.uri


KEEP_EVERY = 0.5  # seconds between two looks at the owned server


def _keep(data_dir, server):
    """The owner's watch over its server: one that died (killed, out of memory) is started
    again on the same port and files, so that every process using it (gunicorn's workers,
    `parcours worker`) reconnects by itself; they answer 503 meanwhile."""
    while _owned.get(str(data_dir)) is server:
        time.sleep(KEEP_EVERY)
        with _owning:
            if server.process.poll() is None or _owned.get(str(data_dir)) is not server:
                continue
            log.warning("embedded database server exited (%s): starting it again on port %s",
                        server.process.returncode, server.port)  # fmt: skip
            try:
                server.restart()
            except (OSError, EmbeddedDatabaseError) as error:
                log.error("embedded database server did not start again: %s", error)
                continue  # tried again at the next look
            with _locked(Path(data_dir) / LOCK_FILE):
                (Path(data_dir) / PORT_FILE).write_text(json.dumps(
                    {"port": server.port, "pid": server.process.pid, "owner": server.owner}
                ))  # fmt: skip


def _owner_restarts(port_file, port):
    """Whether the server's owner, alive, starts it again on its port (its keeper) and it
    answers within START_TIMEOUT: a process starting meanwhile waits for it rather than
    taking the storage over."""
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        owner = int(json.loads(port_file.read_text())["owner"])
        if owner != os.getpid() and _pid_alive(owner):
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline:
                if answers_ping(port, timeout_ms=200):
                    return True
                time.sleep(0.1)
    return False


def _stop_owned(data_dir):
    with _owning:
        server = _owned.pop(str(data_dir), None)
    if server is None or server.owner != os.getpid():
        return
    server.stop()
    port_file = Path(data_dir) / PORT_FILE
    if _read_port_file(port_file) == (server.port, server.process.pid):
        port_file.unlink(missing_ok=True)


def _stop_on_sigterm():
    """Turn SIGTERM into a normal exit so that atexit stops the server we own."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        with contextlib.suppress(ValueError):  # not the main thread
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
