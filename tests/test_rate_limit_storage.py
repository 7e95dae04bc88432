"""With MONGODB_URI set, login rate-limit counters live in the database: workers share them."""

import http.cookiejar
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from app.embedded import free_port

SERVE = """
import sys
from werkzeug.serving import make_server
from app import create_app
app = create_app({"LOGIN_RATE_LIMIT": "3 per minute", "PASSWORD_HASHING": "cheap"})
make_server("127.0.0.1", int(sys.argv[1]), app, threaded=True).serve_forever()
"""


def _wait_for(url):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).close()  # noqa: S310 - loopback
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer")


@pytest.fixture
def two_workers(app_config):
    """Two separate server processes on the same database, like two gunicorn workers."""
    env = {
        **os.environ,
        "MONGODB_URI": app_config["MONGODB_URI"],
        "SECRET_KEY": "k",
        "PARCOURS_DATA_DIR": app_config["PARCOURS_DATA_DIR"],
    }
    env.pop("RATELIMIT_STORAGE_URI", None)
    ports = [free_port(), free_port()]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", SERVE, str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        for port in ports:
            _wait_for(f"http://127.0.0.1:{port}/healthz")
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for process in processes:
            process.terminate()
            process.wait(10)


def _failed_login(base, email):
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    page = opener.open(f"{base}/connexion").read().decode()
    token = page.split('name="csrf-token" content="')[1].split('"')[0]
    body = urllib.parse.urlencode({"email": email, "password": "faux", "csrf_token": token})
    try:
        return opener.open(f"{base}/connexion", data=body.encode()).status
    except urllib.error.HTTPError as error:
        return error.code


def test_two_workers_share_the_login_limit(two_workers, professional):
    first, second = two_workers
    statuses = [_failed_login(base, professional.email) for base in (first, second, first, second)]
    assert statuses == [401, 401, 401, 429]
