"""The embedded database dies under load (kill -9): every process answers 503 in a second or
two, never 500, and goes on by itself once the server is back, on the same port, started
again by its owner; nothing of Parcours is touched."""

import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pymongo
from test_cli import PARCOURS, _start, _stop

from app import db
from app.cli import cli
from app.embedded import PORT_FILE, free_port


def _call(url, token):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback
            status = answer.status
    except urllib.error.HTTPError as error:
        status = error.code
    return status, time.monotonic() - started


def _parcours(data_dir, *args, **kwargs):
    env = {k: v for k, v in os.environ.items() if k not in {"MONGODB_URI", "SECRET_KEY"}}
    env["PARCOURS_DATA_DIR"] = str(data_dir)
    return subprocess.Popen([PARCOURS, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kwargs)  # fmt: skip


def test_the_database_killed_under_load_comes_back_without_touching_parcours(tmp_path):
    port = free_port()
    server, _ = _start(tmp_path, port)
    worker = None
    try:
        token = _parcours(tmp_path, "tokens", "create", "coord.martin@parcours.test")
        token = token.communicate(timeout=60)[0].strip().splitlines()[-1]
        worker = _parcours(tmp_path, "worker", "--interval", "1")
        assert "started" in worker.stdout.readline()
        database = json.loads((tmp_path / PORT_FILE).read_text())
        with pymongo.MongoClient("127.0.0.1", database["port"]) as client:  # terms accepted
            client.parcours.users.update_many({}, {"$set": {"terms_version": 1000}})
        url = f"http://127.0.0.1:{port}/api/v1/me"
        assert _call(url, token)[0] == 200

        answers, stop = [], threading.Event()

        def load():
            while not stop.is_set():
                answers.append(_call(url, token))

        clients = [threading.Thread(target=load) for _ in range(4)]
        for client in clients:
            client.start()
        time.sleep(1)
        os.kill(database["pid"], signal.SIGKILL)
        killed_at = len(answers)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
            status == 200 for status, _ in answers[killed_at + 8 :]
        ):
            time.sleep(0.2)
        stop.set()
        for client in clients:
            client.join()

        statuses = {status for status, _ in answers}
        assert statuses <= {200, 503}, statuses  # never a 500
        assert answers[-1][0] == 200  # the outage is over
        assert max(seconds for _, seconds in answers) < 5  # nobody hangs
        for _ in range(50):  # the owner writes the new server's pid once it answers
            again = json.loads((tmp_path / PORT_FILE).read_text())
            if again["pid"] != database["pid"]:
                break
            time.sleep(0.2)
        assert again["port"] == database["port"]  # where every process looks for it
        assert again["pid"] != database["pid"]
        assert worker.poll() is None  # the worker waited instead of crashing
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            worker.communicate(timeout=60)
        _stop(server)
    assert worker.returncode == 0


def test_the_worker_waits_for_the_database_instead_of_crashing(app, runner):
    uri = app.config["MONGODB_URI"]
    db.connect(f"mongodb://127.0.0.1:{free_port()}/absent?retryWrites=false")
    try:
        result = runner.invoke(cli, ["worker", "--once"])
    finally:
        db.connect(uri)
    assert result.exit_code == 0, result.output
    assert "Database unavailable (ServerSelectionTimeoutError): next try in 1 s." in result.output


def test_while_the_database_is_away_pages_and_the_api_answer_503(
    app, login_as, api_as, coordinator
):
    """The database goes away under signed-in users: 503 with a French message within the
    driver's selection time (2 s), a page that reads nothing from it, JSON for the API; back
    to normal when it is back."""
    browser, api = login_as(coordinator), api_as(coordinator)
    assert browser.get("/dossiers/").status_code == 200
    uri = app.config["MONGODB_URI"]
    db.connect(f"mongodb://127.0.0.1:{free_port()}/absent?retryWrites=false")
    try:
        started = time.monotonic()
        page, answer = browser.get("/dossiers/"), api.get("/me")
        assert time.monotonic() - started < 6
    finally:
        db.connect(uri)
    assert page.status_code == answer.status_code == 503
    assert page.headers["Retry-After"] == "5"
    assert "momentanément indisponible" in page.get_data(as_text=True)
    assert answer.get_json()["error"]["code"] == "unavailable"
    assert browser.get("/dossiers/").status_code == 200
