"""The embedded SecantusDB server: start, share, clean up, persist."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pymongo
import pytest
from pymongo.uri_parser import parse_uri

from app import embedded


def _python(code, data_dir, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def _port(data_dir):
    return json.loads((data_dir / embedded.PORT_FILE).read_text())["port"]


def _wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def owned(tmp_path):
    """This test process owns the data dir's server; stopped at the end of the test."""
    uri = embedded.ensure_server(tmp_path)
    yield uri
    embedded._stop_owned(tmp_path)


def test_a_second_process_reuses_the_running_server(tmp_path, owned):
    child = _python(
        """
        import sys
        from app.embedded import ensure_server
        print(ensure_server(sys.argv[1]))
        """,
        tmp_path,
    )
    out, err = child.communicate(timeout=30)
    assert child.returncode == 0, err
    assert out.strip() == owned
    # The child did not own it: the server outlives the child and the port file is ours.
    info = json.loads((tmp_path / embedded.PORT_FILE).read_text())
    assert info["owner"] == os.getpid()
    assert embedded.answers_ping(_port(tmp_path))


def test_same_process_gets_the_same_server(tmp_path, owned):
    assert embedded.ensure_server(tmp_path) == owned


def _port_of(uri):
    return parse_uri(uri)["nodelist"][0][1]


def test_a_stale_port_file_is_replaced(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / embedded.PORT_FILE).write_text(
        json.dumps({"port": embedded.free_port(), "pid": dead.pid, "owner": dead.pid})
    )
    try:
        uri = embedded.ensure_server(tmp_path)
        info = json.loads((tmp_path / embedded.PORT_FILE).read_text())
        assert info["pid"] != dead.pid
        assert uri == embedded.client_uri(info["port"])
        assert embedded.answers_ping(info["port"])
    finally:
        embedded._stop_owned(tmp_path)


def test_a_garbled_port_file_is_replaced(tmp_path):
    (tmp_path / embedded.PORT_FILE).write_text("not json")
    try:
        embedded.ensure_server(tmp_path)
        assert embedded.answers_ping(_port(tmp_path))
    finally:
        embedded._stop_owned(tmp_path)


def test_the_server_stops_when_its_owner_exits(tmp_path):
    child = _python(
        """
        import sys
        from app.embedded import ensure_server
        print(ensure_server(sys.argv[1]), flush=True)
        """,
        tmp_path,
    )
    out, err = child.communicate(timeout=30)
    assert child.returncode == 0, err
    port = _port_of(out.strip())
    assert _wait_until(lambda: not embedded.answers_ping(port, timeout_ms=200))
    assert not (tmp_path / embedded.PORT_FILE).exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_the_server_stops_when_its_owner_is_killed(tmp_path, sig):
    child = _python(
        """
        import sys, time
        from app.embedded import ensure_server
        print(ensure_server(sys.argv[1]), flush=True)
        time.sleep(60)
        """,
        tmp_path,
    )
    line = child.stdout.readline()
    port = _port_of(line.strip())
    assert embedded.answers_ping(port)
    server_pid = json.loads((tmp_path / embedded.PORT_FILE).read_text())["pid"]
    client = pymongo.MongoClient(line.strip())
    client.parcours.notes.insert_one({"text": "écrit avant la mort du propriétaire"})
    client.close()
    child.send_signal(sig)
    # On SIGTERM the owner stops its server, with a SIGKILL after 10 s if the server missed it.
    child.communicate(timeout=30)
    assert _wait_until(lambda: not embedded.answers_ping(port, timeout_ms=200))
    assert _wait_until(lambda: not embedded._pid_alive(server_pid), timeout=40)

    # Whatever way the server went, what it acknowledged is there on the next start.
    uri = embedded.ensure_server(tmp_path)
    try:
        client = pymongo.MongoClient(uri)
        assert client.parcours.notes.find_one({}, {"_id": 0}) == {
            "text": "écrit avant la mort du propriétaire"
        }
        client.close()
    finally:
        embedded._stop_owned(tmp_path)


def test_data_survives_a_restart(tmp_path):
    uri = embedded.ensure_server(tmp_path)
    client = pymongo.MongoClient(uri)
    client.parcours.notes.insert_one({"text": "toujours là"})
    client.close()
    embedded._stop_owned(tmp_path)

    uri = embedded.ensure_server(tmp_path)
    try:
        client = pymongo.MongoClient(uri)
        assert client.parcours.notes.find_one({}, {"_id": 0}) == {"text": "toujours là"}
        client.close()
    finally:
        embedded._stop_owned(tmp_path)


def test_restart_keeps_the_port_the_data_and_the_clients(tmp_path):
    server = embedded.EmbeddedServer.start(tmp_path / "db", tmp_path / "log")
    try:
        client = pymongo.MongoClient(server.uri, serverSelectionTimeoutMS=10_000)
        client.parcours.notes.insert_one({"text": "avant"})
        first, port, first_watcher = server.process.pid, server.port, server.watcher
        server.restart()
        assert (server.port, server.process.pid != first) == (port, True)
        # The old server's watcher ended with it; a new one watches the new server.
        assert first_watcher.returncode == 0  # it saw its server go and ended by itself
        assert server.watcher.poll() is None
        assert server.watcher.args[-1] == str(server.process.pid)
        # The same client, reconnected by itself.
        assert client.parcours.notes.find_one({}, {"_id": 0}) == {"text": "avant"}
        client.close()
    finally:
        server.stop()


def test_a_server_that_cannot_start_gives_a_clear_error(tmp_path):
    blocker = tmp_path / "db"
    blocker.write_text("a file where the storage folder should be")
    with pytest.raises(embedded.EmbeddedDatabaseError, match="SecantusDB"):
        embedded.EmbeddedServer.start(blocker, tmp_path / "log")


def test_the_cache_size_reaches_the_server(tmp_path):
    uri = embedded.ensure_server(tmp_path, ("--cache-size", "256M"))
    try:
        server = embedded._owned[str(tmp_path)]
        assert server.process.args[-2:] == ["--cache-size", "256M"]
        assert embedded.answers_ping(server.port)
        assert uri == server.uri
    finally:
        embedded._stop_owned(tmp_path)
