"""The morning-peak load mix: gunicorn as a region runs it, 40 signed-in users at once.

    .venv/bin/pip install gunicorn   # not a dependency of the package
    .venv/bin/python tests/perf/load_bench.py [--seconds 300] [--clients 40] [--dossiers 2000]
        [--workers 4] [--slice 60] [--keep-seed DIR | --from-seed DIR] [--retry-writes]

1. A temporary PARCOURS_DATA_DIR gets `parcours demo`, then a region of realistic size seeded
   through the services (a separate process, which owns the embedded server meanwhile): 10
   coordinators of the DAC and 30 professionals (doctors, nurses, social workers) with an API
   token each, `--dossiers` dossiers with a circle of two, two notes and a message each, and
   a pathway (parcours_complexe) with its first task open on every other one. `--keep-seed`
   keeps that folder; `--from-seed` copies it instead of seeding again.
2. gunicorn starts with `-c python:app.gunicorn_conf --workers N` on a free loopback port
   (its master owns the embedded server), behind what looks like a reverse proxy
   (TRUSTED_PROXIES=1, X-Forwarded-Proto: https), as the README's deployment says.
3. `--clients` threads, one account each, send requests back to back for `--seconds`, each
   picking a kind by weight (MIX): list my tasks, my dossiers, open a dossier, read its
   timeline and its messages, post a note or a message, complete a task, search the
   directory. Every request has a 30 s timeout.

Prints requests/s (overall and by slice of `--slice` seconds: does it hold over the run?),
p50/p95/p99 per kind, the errors by status, and the CPU seconds gunicorn's processes and the
database server used meanwhile. `--retry-writes` connects the workers with the driver's
default, retryable writes (MONGODB_URI to the same server, which this process then owns): how
the embedded server was used before they were turned off (the "before" figures of README,
"Capacity"). Asserts nothing."""

import argparse
import http.client
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve()
VENV_BIN = Path(sys.executable).parent
PASSWORD = "Charge-Matinale-2026"  # noqa: S105 - a throw-away region on loopback

# (kind, weight): what a region's users do between 8 and 10 in the morning.
MIX = [
    ("tasks", 20),
    ("dossiers", 12),
    ("dossier", 14),
    ("timeline", 14),
    ("messages", 10),
    ("note", 8),
    ("message", 6),
    ("complete", 8),
    ("directory", 8),
]
# Professionals: (profession, structure, care role in a circle, category of their notes).
PROFESSIONALS = [
    ("10", "chu-purpan", "medecin_traitant", "medical"),
    ("60", "ssiad-garonne", "infirmier", "soins"),
    ("assistant_social", "ccas-toulouse", "assistant_social", "social"),
]
SURNAMES = [
    "Martin",
    "Bernard",
    "Thomas",
    "Petit",
    "Robert",
    "Richard",
    "Durand",
    "Dubois",
    "Moreau",
    "Laurent",
    "Simon",
    "Michel",
    "Lefebvre",
    "Leroy",
    "Roux",
    "Garnier",
]
FIRST_NAMES = ["Jeanne", "Marie", "Louise", "Pierre", "Jean", "André", "Paulette", "Henri"]
# What completes the first steps of parcours_complexe (tests/test_workflows_shipped.py).
STEP_DATA = {
    "demande_appui_dac": {
        "demandeur": {
            "type_demandeur": "medecin_traitant",
            "nom": "Dr Anne Dupuis",
            "telephone": "05 61 00 00 02",
        },
        "personne": {"nom": "Martin", "prenoms": "Jeanne", "date_naissance": "1941-03-12"},
        "difficultes": ["sante", "isolement"],
        "urgence": "sous_huit_jours",
        "consentement_obtenu": True,
        "consentement_mode": "oral",
        "description_situation": "Chutes répétées, vit seule.",
    },
    "analyse_demande": {
        "date_analyse": "2026-11-28",
        "decision": "sans_suite",
        "motif": "Situation déjà suivie par l'équipe de soins primaires.",
    },
    "cloture_parcours": {
        "date_cloture": "2026-12-10",
        "motif": "objectifs_atteints",
        "relais": "Médecin traitant.",
        "personne_informee": True,
    },
}


# --- seeding (run in its own process: `--seed-into DIR`) ----------------------------------------


def seed_region(dossiers):
    """Accounts, tokens and dossiers through the services; {token: [dossier ids]} on stdout."""
    from app import create_app, policy
    from app.accounts.services import create_token, create_user
    from app.discussions import services as discussions
    from app.dossiers import circle, entries
    from app.dossiers.services import create_dossier
    from app.pathways.instances import start_pathway
    from app.terms.services import accept, must_accept

    app = create_app()
    rng = random.Random(19)
    with app.app_context():

        def account(email, profession, structure, roles):
            user = create_user(
                policy.SYSTEM,
                {
                    "email": email,
                    "name": email.split("@")[0].replace(".", " ").title(),
                    "password": PASSWORD,
                    "profession": profession,
                    "memberships": [{"structure": structure, "roles": roles}],
                },
            )
            pending = must_accept(user)
            if pending is not None:
                accept(user, pending.version)
            return user, create_token(policy.SYSTEM, user, {"name": "charge"})[1]

        coordinators = [
            account(f"coord{n}@charge.test", "coordinateur", "dac-31", ["coordinator"])
            for n in range(10)
        ]
        professionals = [
            (*account(f"pro{n}@charge.test", profession, structure, ["professional"]), role, cat)
            for n in range(30)
            for profession, structure, role, cat in [PROFESSIONALS[n % len(PROFESSIONALS)]]
        ]
        users = {token: {"kind": "coordinator", "dossiers": []} for _, token in coordinators}
        for _, token, _, category in professionals:
            users[token] = {"kind": "professional", "category": category, "dossiers": []}
        started = time.monotonic()
        for n in range(dossiers):
            coordinator, coordinator_token = coordinators[n % len(coordinators)]
            dossier = create_dossier(
                coordinator,
                {
                    "identity": {
                        "birth_name": rng.choice(SURNAMES),
                        "first_names": rng.choice(FIRST_NAMES),
                        "birth_date": str(date(1925, 1, 1) + timedelta(days=n)),
                        "sex": rng.choice("FM"),
                    },
                    "consent": {"mode": "oral", "date": "2026-01-05"},
                    "structure": "dac-31",
                    "confirm_new": True,
                },
            )
            users[coordinator_token]["dossiers"].append(str(dossier.id))
            for pro, token, role, category in rng.sample(professionals, 2):
                circle.add_member(coordinator, dossier, {"user": str(pro.id), "care_role": role})
                dossier.reload()
                entries.add_entry(
                    pro,
                    dossier,
                    {
                        "title": "Passage",
                        "category": category,
                        "visibility": "shared",
                        "note": "Passage du matin, rien à signaler.",
                    },
                )
                users[token]["dossiers"].append(str(dossier.id))
            dossier.reload()
            thread = discussions.dossier_thread(coordinator, dossier, "discussion.post")
            discussions.post(coordinator, thread, dossier, "Point de situation : RAS.")
            if n % 2 == 0:
                start_pathway(coordinator, dossier, "parcours_complexe")
            if (n + 1) % 250 == 0:
                print(f"  {n + 1} dossiers, {time.monotonic() - started:.0f} s", file=sys.stderr)
        print(json.dumps(users))


# --- the region under load ----------------------------------------------------------------------


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Client:
    """One signed-in user: an API token, the dossiers of their circles."""

    def __init__(self, port, token, profile, rng):
        self.port, self.token, self.profile, self.rng = port, token, profile, rng
        self.timings, self.errors, self.done_at = defaultdict(list), Counter(), []

    def call(self, kind, method, path, body=None):
        headers = {
            "Authorization": f"Bearer {self.token}",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": "127.0.0.1",
            "Content-Type": "application/json",
        }
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(
                method, "/api/v1" + path, json.dumps(body) if body is not None else None, headers
            )
            answer = connection.getresponse()
            status, payload = answer.status, answer.read()
        except OSError as error:
            status, payload = type(error).__name__, b""
        finally:
            connection.close()
        self.timings[kind].append(time.perf_counter() - started)
        self.done_at.append(time.monotonic())
        if status not in (200, 201):
            self.errors[(kind, status)] += 1
            return None
        return json.loads(payload) if payload else {}

    def dossier(self):
        return self.rng.choice(self.profile["dossiers"])

    def act(self, kind):
        if kind == "tasks":
            self.call(kind, "GET", "/tasks")
        elif kind == "dossiers":
            self.call(kind, "GET", "/dossiers")
        elif kind == "dossier":
            self.call(kind, "GET", f"/dossiers/{self.dossier()}")
        elif kind == "timeline":
            self.call(kind, "GET", f"/dossiers/{self.dossier()}/timeline")
        elif kind == "messages":
            self.call(kind, "GET", f"/dossiers/{self.dossier()}/messages")
        elif kind == "message":
            self.call(
                kind,
                "POST",
                f"/dossiers/{self.dossier()}/messages",
                {"body": "Vu ce matin, je repasse demain."},
            )
        elif kind == "directory":
            self.call(kind, "GET", f"/directory?name={self.rng.choice(SURNAMES)[:4]}")
        elif kind == "note" or (kind == "complete" and self.profile["kind"] != "coordinator"):
            self.call(
                "note",
                "POST",
                f"/dossiers/{self.dossier()}/entries",
                {
                    "title": "Passage",
                    "visibility": "shared",
                    "note": "Constantes stables.",
                    "category": self.profile.get("category", "administratif"),
                },
            )
        elif kind == "complete":
            self.complete()

    def complete(self):
        """A coordinator's first open task that the mix knows how to fill, done."""
        listed = self.call("tasks", "GET", "/tasks")
        known = [t for t in (listed or {}).get("items", []) if t.get("form_key") in STEP_DATA]
        if not known:
            return
        task = self.rng.choice(known)
        self.call("task", "GET", f"/tasks/{task['id']}")
        self.call(
            "complete",
            "POST",
            f"/tasks/{task['id']}/complete",
            {"data": STEP_DATA[task["form_key"]]},
        )

    def run(self, deadline):
        kinds, weights = zip(*MIX, strict=True)
        while time.monotonic() < deadline:
            self.act(self.rng.choices(kinds, weights)[0])


def parcours(*args, env):
    subprocess.run(
        [str(VENV_BIN / "parcours"), *args], env=env, check=True, stdout=subprocess.DEVNULL
    )


def prepare(folder, args, env):
    """The seeded data dir in `folder`; the users' profiles."""
    if args.from_seed:
        shutil.copytree(args.from_seed, folder, dirs_exist_ok=True)
        return json.loads((folder / "load_users.json").read_text())
    print(f"seeding: parcours demo, then {args.dossiers} dossiers", file=sys.stderr)
    parcours("demo", env=env)
    seeded = subprocess.run(
        [sys.executable, str(HERE), "--seed-into", str(folder), "--dossiers", str(args.dossiers)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    (folder / "load_users.json").write_text(seeded.stdout)
    if args.keep_seed:
        shutil.copytree(
            folder, args.keep_seed, ignore=shutil.ignore_patterns("secantus.json", "secantus.lock")
        )
    return json.loads(seeded.stdout)


def wait_for(port, process, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with code {process.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz", headers={"X-Forwarded-Proto": "https"})
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("gunicorn did not answer within 120 s")


def cpu_seconds(pid):
    """User and system CPU seconds of the process `pid` so far (Linux), 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_of(gunicorn, folder):
    """CPU seconds so far of (gunicorn's master and workers, the embedded database server)."""
    children = Path(f"/proc/{gunicorn.pid}/task/{gunicorn.pid}/children")
    workers = [int(pid) for pid in children.read_text().split()] if children.exists() else []
    served = sum(cpu_seconds(pid) for pid in [gunicorn.pid, *workers])
    database = json.loads((folder / "secantus.json").read_text())["pid"]
    return served, cpu_seconds(database)


def percentile(ordered, share):
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000


def report(clients, started, seconds, slice_seconds):
    timings, errors = defaultdict(list), Counter()
    slices = Counter(int((at - started) // slice_seconds) for c in clients for at in c.done_at)
    for client in clients:
        for kind, values in client.timings.items():
            timings[kind] += values
        errors.update(client.errors)
    total = sum(len(values) for values in timings.values())
    print(f"{total} requests in {seconds:.0f} s: {total / seconds:.1f} requests/s")
    print(
        f"requests/s by slice of {slice_seconds:.0f} s:",
        " ".join(
            f"{slices[n] / slice_seconds:.1f}"
            for n in sorted(slices)
            if (n + 1) * slice_seconds <= seconds + 1
        ),
    )
    print(f"{'kind':>10} | {'count':>6} | {'p50 ms':>7} | {'p95 ms':>7} | {'p99 ms':>7}")
    for kind, values in sorted(timings.items(), key=lambda pair: -len(pair[1])):
        ordered = sorted(values)
        print(
            f"{kind:>10} | {len(ordered):6} | {statistics.median(ordered) * 1000:7.0f} | "
            f"{percentile(ordered, 0.95):7.0f} | {percentile(ordered, 0.99):7.0f}"
        )
    print(
        "errors:",
        ", ".join(f"{kind} {status}: {n}" for (kind, status), n in errors.items()) or "none",
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--clients", type=int, default=40)
    parser.add_argument("--dossiers", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--slice", type=float, default=60, help="seconds per throughput slice")
    parser.add_argument("--keep-seed", type=Path)
    parser.add_argument("--from-seed", type=Path)
    parser.add_argument("--retry-writes", action="store_true")
    parser.add_argument("--seed-into", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed_into:
        return seed_region(args.dossiers)
    with tempfile.TemporaryDirectory(prefix="load_") as temporary:
        folder = Path(temporary) / "data"
        folder.mkdir()
        env = {
            **os.environ,
            "PARCOURS_DATA_DIR": str(folder),
            "PARCOURS_ENV": "production",
            "SECRET_KEY": "load-bench-" + "x" * 40,
            "TRUSTED_PROXIES": "1",
        }
        env.pop("MONGODB_URI", None)
        profiles = prepare(folder, args, env)
        if args.retry_writes:  # this process owns the server; the workers connect by URI
            from app.embedded import ensure_server

            env["MONGODB_URI"] = ensure_server(folder).replace("retryWrites=false", "")
        port = free_port()
        log = (Path(temporary) / "gunicorn.log").open("w")
        gunicorn = subprocess.Popen(
            [
                str(VENV_BIN / "gunicorn"),
                "-c",
                "python:app.gunicorn_conf",
                "--workers",
                str(args.workers),
                "--bind",
                f"127.0.0.1:{port}",
                "app.wsgi:app",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            wait_for(port, gunicorn)
            rng = random.Random(7)
            tokens = list(profiles)
            clients = [
                Client(
                    port,
                    tokens[n % len(tokens)],
                    profiles[tokens[n % len(tokens)]],
                    random.Random(rng.random()),
                )
                for n in range(args.clients)
            ]
            print(
                f"{args.clients} clients, {args.workers} workers, {args.seconds:.0f} s, "
                f"retryWrites={'true' if args.retry_writes else 'false'}",
                file=sys.stderr,
            )
            cpu_before = cpu_of(gunicorn, folder)
            started = time.monotonic()
            deadline = started + args.seconds
            threads = [threading.Thread(target=c.run, args=(deadline,)) for c in clients]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            report(clients, started, time.monotonic() - started, args.slice)
            served, database = (
                b - a for a, b in zip(cpu_before, cpu_of(gunicorn, folder), strict=True)
            )
            print(f"CPU seconds: gunicorn {served:.0f}, embedded database {database:.0f}")
        finally:
            gunicorn.terminate()
            gunicorn.wait(timeout=60)
            log.close()


if __name__ == "__main__":
    main()
