"""Foundation benchmark: start-up, request latency and MongoDB round trips per request.

Run: .venv/bin/python tests/perf/foundation_bench.py [--users 5000] [--events 10000]
Prints numbers; asserts nothing. Uses a throw-away embedded SecantusDB server.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from pymongo import monitoring

from app.db import CommandCounter

COMMANDS = CommandCounter()
monitoring.register(COMMANDS)

from app import audit, create_app, policy  # noqa: E402 - after the listener, on purpose
from app.accounts.models import Membership, User  # noqa: E402
from app.accounts.passwords import hash_password  # noqa: E402
from app.accounts.services import create_token  # noqa: E402
from app.embedded import EmbeddedServer, free_port  # noqa: E402
from app.structures.models import Structure  # noqa: E402


def startup_time(data_dir):
    """Seconds from `parcours run` on an empty data dir to a 200 on /healthz."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"MONGODB_URI", "SECRET_KEY"}}
    env["PARCOURS_DATA_DIR"] = str(data_dir)
    parcours = str(Path(sys.executable).with_name("parcours"))
    started = time.monotonic()
    process = subprocess.Popen(
        [parcours, "run", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):  # noqa: S310
                    return time.monotonic() - started
            except OSError:
                time.sleep(0.02)
    finally:
        process.terminate()
        process.wait(30)


def seed(n_users, n_events):
    structures = [
        Structure(key=f"s{i}", name=f"Structure {i}", sector="sanitaire", kind="hopital")
        for i in range(20)
    ]
    Structure.objects.insert(structures)
    password_hash = hash_password("benchmark-password")
    users = [
        User(
            email=f"user{i}@example.org",
            name=f"Utilisateur {i:05d}",
            profession="60",
            password_hash=password_hash,
            memberships=[Membership(structure=structures[i % 20].id, roles=["professional"])],
        )
        for i in range(n_users)
    ]
    for user in users:
        user.clean()  # search keys, as save() does
    User.objects.insert(users, load_bulk=False)
    admin = User(
        email="admin@example.org", name="Admin", platform_admin=True, password_hash=password_hash
    )
    admin.save()
    started = time.monotonic()
    for i in range(n_events):
        audit.record(policy.SYSTEM, "bench.event", object_type="Bench", object_id=str(i))
    append_rate = n_events / (time.monotonic() - started)
    started = time.monotonic()
    checked, problem = audit.verify()
    verify_rate = checked / (time.monotonic() - started)
    assert problem is None
    return admin, append_rate, verify_rate


def measure(name, call, repeat):
    timings, trips = [], []
    call()  # warm-up
    for _ in range(repeat):
        COMMANDS.reset()
        started = time.perf_counter()
        response = call()
        timings.append((time.perf_counter() - started) * 1000)
        trips.append(COMMANDS.count)
        assert response.status_code in (200, 302), (name, response.get_data(as_text=True)[-800:])
    timings.sort()
    p95 = timings[int(len(timings) * 0.95) - 1]
    print(
        f"{name:42} p50 {statistics.median(timings):7.1f} ms   p95 {p95:7.1f} ms   "
        f"round trips {max(trips)}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--events", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=100)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        seconds = startup_time(Path(folder) / "first")
        print(f"parcours run, empty data dir -> /healthz 200: {seconds:.2f} s (demo seeded)")
        seconds = startup_time(Path(folder) / "first")
        print(f"parcours run, existing data dir -> /healthz 200: {seconds:.2f} s")

        server = EmbeddedServer.start(Path(folder) / "db", Path(folder) / "log")
        try:
            app = create_app(
                {
                    "MONGODB_URI": server.uri_for("bench"),
                    "SECRET_KEY": "bench",
                    "RATELIMIT_STORAGE_URI": "memory://",
                    "LOGIN_RATE_LIMIT": "1000000 per minute",
                }
            )
            with app.app_context():
                started = time.monotonic()
                admin, append_rate, verify_rate = seed(args.users, args.events)
                print(f"seeded {args.users} users in {time.monotonic() - started:.1f} s")
                print(f"audit: {append_rate:.0f} events appended/s, {verify_rate:.0f} verified/s")
                _, token = create_token(policy.SYSTEM, admin, {"name": "bench"})
            headers = {"Authorization": f"Bearer {token}"}
            api = app.test_client()
            web = app.test_client()
            page = web.get("/connexion").get_data(as_text=True)
            csrf = page.split('name="csrf-token" content="')[1].split('"')[0]
            login = {
                "email": "admin@example.org",
                "password": "benchmark-password",
                "csrf_token": csrf,
            }

            def fresh_login():
                browser = app.test_client()
                page = browser.get("/connexion").get_data(as_text=True)
                token = page.split('name="csrf-token" content="')[1].split('"')[0]
                return lambda: browser.post("/connexion", data={**login, "csrf_token": token})

            logins = [fresh_login() for _ in range(args.repeat // 4 + 1)]
            measure("POST /connexion (argon2id)", lambda: logins.pop()(), args.repeat // 4)
            web.post("/connexion", data=login)
            measure("GET / (home)", lambda: web.get("/"), args.repeat)
            measure(
                "GET /admin/utilisateurs (page 1)",
                lambda: web.get("/admin/utilisateurs"),
                args.repeat,
            )
            measure(
                "GET /admin/utilisateurs?q=00042 (one match)",
                lambda: web.get("/admin/utilisateurs?q=00042"),
                args.repeat,
            )
            measure("GET /admin/journal (page 1)", lambda: web.get("/admin/journal"), args.repeat)
            measure("GET /api/v1/me", lambda: api.get("/api/v1/me", headers=headers), args.repeat)
            measure(
                "GET /api/v1/users?per_page=100",
                lambda: api.get("/api/v1/users?per_page=100", headers=headers),
                args.repeat,
            )
            measure(
                "GET /api/v1/structures",
                lambda: api.get("/api/v1/structures", headers=headers),
                args.repeat,
            )
            measure(
                "GET /api/v1/openapi.json", lambda: api.get("/api/v1/openapi.json"), args.repeat
            )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
