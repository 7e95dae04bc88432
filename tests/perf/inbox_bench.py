"""Inbox benchmark: the work inbox, its counters and the discussions at scale.

Run: PYTHONUNBUFFERED=1 .venv/bin/python tests/perf/inbox_bench.py
     [--users 10000] [--tasks 1000000] [--messages 5000000] [--samples 50]
Quick run: add --users 500 --tasks 20000 --messages 50000. Target (issue): p95 under 100 ms.
--budget S (default 60): a path stops sampling after S seconds (at least 5 timed calls);
--no-plans skips the query plans printed at the end (each query shape run once more).

Seeds a throw-away embedded SecantusDB server with raw insert_many batches shaped like the
models (app/pathways/models.py Task, app/discussions/models.py, app/notifications/models.py
UnreadCount, minimal dossiers and accounts), the models' indexes made first. Then it times
the real services inside a test request context: users, dossiers and discussions are loaded
before the timed part, `g` is cleared before each call, the first call is a warm-up. Prints
seeding time, p50/p95/max and the MongoDB commands per call as a Markdown table, what the
last call of each path sent, and the plan of every query shape. Prints numbers; asserts
nothing.

The shape: 50 structures of skewed sizes (the first is the largest), a few coordinators in
each, professionals (10% with a second structure); users x 3 dossiers, each with a circle of
3-8 accounts (a coordinator of its structure first); tasks spread over the dossiers, routed
as app/pathways/routing.py does (to the circle member holding the lane's care role, else
offered to the dossier's structure and the lane's professions, kept once claimed), 10% of
those of active dossiers open; 15% without a due date, a third of the dated ones overdue. One
"heavy" professional is in the circle of up to 1,500 dossiers and holds a third of their
open tasks. Discussions: a thread per dossier, one 1:1 conversation per user, a group per five
users; messages with a long tail (a few threads of 10,000+ at full size); participations with
unread counts whose sums are the per-user counter documents.

The counters are timed twice: recounted (`tasks_at` unset before each call, outside the
timing) and cached (counted under a minute before). "db ms" is the time of a call's round
trips as the driver saw them: the rest is Python (MongoEngine, the policy).
"""

import argparse
import itertools
import math
import os
import random
import statistics
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

from bson import ObjectId
from flask import g
from pymongo import monitoring

from app.db import CommandCounter


class Recorder(CommandCounter):
    """Counts the commands, and keeps the queries of the last call (for their plans) and the
    time of each round trip (as the driver measures it: the server's work and the wire)."""

    def reset(self):
        super().reset()
        self.queries, self.durations = [], {}

    def started(self, event):
        super().started(event)
        if event.command_name in ("find", "aggregate", "distinct"):
            self.queries.append(dict(event.command))

    def succeeded(self, event):
        self.durations[event.request_id] = (event.command_name, event.duration_micros / 1000)


# As in dossiers_bench.py: a cache that holds the data set, the whole oplog kept (no pruning
# walk), and a restart every RESTART_EVERY inserts (the cache stall dossiers_bench.py
# describes; the same files are reopened). The timed part comes after seeding.
RESTART_EVERY = 1_000_000

COMMANDS = Recorder()
COMMANDS.reset()
monitoring.register(COMMANDS)

from benchkit import LARGE, bench_server, print_plans  # noqa: E402

from app import create_app  # noqa: E402 - after the listener, on purpose
from app.accounts.models import ApiToken, User  # noqa: E402
from app.audit import AuditEvent  # noqa: E402
from app.db import database  # noqa: E402
from app.directory.models import Professional  # noqa: E402
from app.discussions import services as discussions  # noqa: E402
from app.discussions.models import Discussion, Message, Participation  # noqa: E402
from app.dossiers.models import Dossier  # noqa: E402
from app.inbox import services as inbox  # noqa: E402
from app.notifications import services as notifications  # noqa: E402
from app.notifications.models import (  # noqa: E402
    Notification,
    NotificationPreference,
    OutgoingMail,
    UnreadCount,
)
from app.pathways import tallies  # noqa: E402
from app.pathways.models import NEVER_DUE, Pathway, PathwayInstance, Task  # noqa: E402
from app.reference import CARE_ROLE_PROFESSIONS  # noqa: E402
from app.structures.models import Structure  # noqa: E402
from app.text import compact, fold, tokens  # noqa: E402

MODELS = (Structure, User, ApiToken, Professional, Dossier, Pathway, PathwayInstance, Task,
          tallies.TaskTally)  # fmt: skip
MODELS += (Discussion, Message, Participation, UnreadCount, Notification)
MODELS += (NotificationPreference, OutgoingMail, AuditEvent)
COLLECTIONS = ("users", "dossiers", "tasks", "discussions", "messages")
COLLECTIONS += ("discussion_participants", "notification_unread")

SURNAMES = """Martin Bernard Thomas Petit Robert Richard Durand Dubois Moreau Laurent Simon
Michel Lefèvre Leroy Roux David Bertrand Morel Fournier Girard Bonnet Dupont Lambert Fontaine
Rousseau Vincent Muller Faure André Mercier Blanc Guérin Boyer Garnier Chevalier François
Legrand Gauthier Garcia Perrin Robin Clément Morin Nicolas Henry Roussel Mathieu Masson""".split()  # noqa: SIM905
FIRST_NAMES = """Marie Jeanne Nathalie Isabelle Sylvie Anne Christine Céline Sophie Julie Camille
Léa Manon Chloé Élise Jean Pierre Michel André Philippe Louis Paul Nicolas François Julien
Éric Laurent Olivier Thomas Hugo Lucas Théo Raphaël Gilles Benoît""".split()  # noqa: SIM905
# Professions of the professionals, with their weights; the care role each takes in a circle.
PROFESSIONS = {"60": 30, "10": 15, "aide_a_domicile": 12, "auxiliaire_de_vie": 8, "70": 8}
PROFESSIONS |= {"21": 6, "assistant_social": 6, "psychologue": 4, "ergotherapeute": 4}
CARE_ROLE = {"coordinateur": "coordinateur", "10": "medecin_traitant", "60": "infirmier"}
CARE_ROLE |= {"21": "pharmacien", "70": "kinesitherapeute", "assistant_social": "assistant_social"}
CARE_ROLE |= {"aide_a_domicile": "aide_a_domicile", "auxiliaire_de_vie": "aide_a_domicile"}
CARE_ROLE |= {"psychologue": "psychologue", "ergotherapeute": "ergotherapeute"}
# The user tasks of the pathways: (spec, title, form, lane); offered to CARE_ROLE_PROFESSIONS.
STEPS = [
    ("evaluer", "Évaluer la situation", "evaluation_multidimensionnelle", "coordinateur"),
    ("visite_ide", "Visite infirmière", "bilan_infirmier", "infirmier"),
    ("bilan_medical", "Bilan médical", "bilan_medical", "medecin_traitant"),
    ("conciliation", "Conciliation médicamenteuse", "conciliation", "pharmacien"),
    ("plan_aide", "Plan d'aide", "plan_aide", "assistant_social"),
    ("passage", "Passage à domicile", "compte_rendu_passage", "aide_a_domicile"),
    ("reeducation", "Séances de rééducation", "bilan_kine", "kinesitherapeute"),
    ("soutien", "Entretien de soutien", "entretien", "psychologue"),
    ("logement", "Aménagement du logement", "visite_ergo", "ergotherapeute"),
]
PATHWAYS = [
    ("sortie_hospitalisation", "Sortie d'hospitalisation"),
    ("maintien_domicile", "Maintien à domicile"),
    ("prevention_chutes", "Prévention des chutes"),
    ("soins_palliatifs", "Soins palliatifs à domicile"),
    ("insuffisance_cardiaque", "Insuffisance cardiaque"),
    ("diabete", "Parcours diabète"),
    ("troubles_cognitifs", "Troubles cognitifs"),
    ("acces_droits", "Accès aux droits"),
]
BODIES = [
    "Bonjour, passage prévu demain matin vers 10 h.",
    "La situation reste stable, rien de particulier à signaler.",
    "Pouvez-vous me rappeler au sujet du traitement ?",
    "Le pilulier a été refait, les doses du soir sont à surveiller.",
    "RDV pris avec le cardiologue le 12, la fille accompagnera.",
    "Chute sans gravité hier soir, la téléassistance a fonctionné.",
    "Merci, c'est noté.",
    "Le dossier APA est complet, envoyé au département ce jour.",
]
N_STRUCTURES = 50
HEAVY_DOSSIERS = 1500  # circles the heavy professional is in (at most a tenth of the dossiers)
BATCH = 5000
NOW = datetime.now(UTC)


def weighted(rng, n):
    """Draws 0..n-1, the first ones most often (weights 1/sqrt(rank))."""
    cumulative = list(itertools.accumulate(1 / (r + 1) ** 0.5 for r in range(n)))
    return lambda: rng.choices(range(n), cum_weights=cumulative)[0]


class Writer:
    """Buffers documents per collection, writes them with insert_many in batches, restarts the
    server every RESTART_EVERY documents."""

    def __init__(self, restart):
        self.restart, self.buffers, self.sizes = restart, defaultdict(list), Counter()
        self.since_restart = 0

    def add(self, name, doc):
        docs = self.buffers[name]
        docs.append(doc)
        if len(docs) >= BATCH:
            self._write(name)

    def _write(self, name):
        docs = self.buffers[name]
        if not docs:
            return
        database()[name].insert_many(docs, ordered=False)
        self.sizes[name] += len(docs)
        self.since_restart += len(docs)
        docs.clear()
        if self.since_restart >= RESTART_EVERY:
            total = sum(self.sizes.values())
            print(f"  {total} documents written; restarting the server", flush=True)
            self.restart()
            self.since_restart = 0

    def close(self):
        for name in list(self.buffers):
            self._write(name)


class World:
    """What the seeding keeps for the measures (ids and indexes, not documents)."""

    def __init__(self):
        self.structures, self.users, self.coordinators = [], [], defaultdict(list)
        self.professionals, self.local = [], defaultdict(list)
        self.dossiers = []  # (oid, structure index, circle (user indexes), status)
        self.open_assigned = Counter()  # user index -> open tasks assigned
        self.offered = Counter()  # (structure index, profession) -> open tasks offered
        self.open_offered = 0
        self.threads = {}  # dossier index -> (discussion oid, last seq)
        self.long = []  # dossier indexes of the longest threads
        self.groups = []  # (discussion oid, participants (user indexes), last seq)
        self.participations = Counter()  # user index -> participations
        self.heavy = self.admin = None
        self.in_directory = set()  # user indexes with a directory entry


def seed_accounts(rng, world, n_users, writer):
    """50 structures; a few coordinators in each (the first also its admin); professionals
    spread over the structures, the first ones larger, half of them in the directory (as the
    RPPS import links them); the last user is the heavy one, the one before a platform
    administrator."""
    structure_of = weighted(rng, N_STRUCTURES)
    for k in range(N_STRUCTURES):
        oid, name = ObjectId(), f"Structure {k:02}"
        doc = {"_id": oid, "key": f"s{k:02}", "name": name, "sector": "medico_social"}
        doc |= {"kind": "dac", "active": True, "created_at": NOW, "updated_at": NOW}
        writer.add("structures", doc)
        world.structures.append(oid)
    per_structure = max(1, round(n_users * 0.02 / N_STRUCTURES))
    professions = list(PROFESSIONS)
    weights = list(PROFESSIONS.values())
    for i in range(n_users):
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"
        email = f"user{i}@example.org"
        if i < per_structure * N_STRUCTURES:
            s, profession = i // per_structure, "coordinateur"
            roles = (
                ["coordinator", "structure_admin"] if i % per_structure == 0 else ["coordinator"]
            )
            memberships = [{"structure": world.structures[s], "roles": roles}]
            world.coordinators[s].append(i)
        else:
            s = 0 if i == n_users - 1 else structure_of()
            profession = "60" if i == n_users - 1 else rng.choices(professions, weights)[0]
            memberships = [{"structure": world.structures[s], "roles": ["professional"]}]
            if rng.random() < 0.1:
                other = structure_of()
                if other != s:
                    memberships.append({"structure": world.structures[other],
                                        "roles": ["professional"]})  # fmt: skip
                    world.local[other].append(i)
            world.professionals.append(i)
            world.local[s].append(i)
        oid = ObjectId()
        doc = {"_id": oid, "email": email, "name": name, "profession": profession}
        doc |= {"platform_admin": i == n_users - 2, "status": "active"}
        doc |= {"failed_logins": 0, "session_nonce": f"n{i}", "created_at": NOW}
        doc |= {"search_keys": tokens(name, email) + [fold(email)], "updated_at": NOW}
        writer.add("users", doc | {"memberships": memberships})
        world.users.append((oid, name, profession))
        if profession != "coordinateur" and rng.random() < 0.5:
            first, last = name.split(" ", 1)
            entry = {"_id": ObjectId(), "rpps": f"10{i:09}", "last_name": last, "user": oid}
            entry |= {"first_name": first, "profession": profession, "source": "rpps"}
            entry |= {"active": True, "search_keys": tokens(last, first), "created_at": NOW}
            writer.add("professionals", entry)
            world.in_directory.add(i)
    world.heavy, world.admin = n_users - 1, n_users - 2
    for key, name in PATHWAYS:
        doc = {"_id": ObjectId(), "key": key, "name": name, "latest_version": 1}
        writer.add("pathways", doc | {"start_messages": [], "created_at": NOW})
    writer.close()


def seed_dossiers(rng, world, n_dossiers, writer):
    """Each dossier with a circle of 3-8 accounts: a coordinator of its structure first, then
    professionals of the structure (60%) or from anywhere; the heavy one in some circles."""
    structure_of = weighted(rng, N_STRUCTURES)
    every = max(1, n_dossiers // min(HEAVY_DOSSIERS, max(1, n_dossiers // 10)))
    pros = [p for p in world.professionals if p != world.heavy]
    locals_ = {s: [p for p in found if p != world.heavy] for s, found in world.local.items()}
    for i in range(n_dossiers):
        s = structure_of()
        circle = [rng.choice(world.coordinators[s])]
        size = 8 if i == 1 else rng.randint(3, 8)  # dossier 1: the thread where one posts
        local = locals_.get(s)
        while len(circle) < size:
            pick = rng.choice(local) if local and rng.random() < 0.6 else rng.choice(pros)
            if pick not in circle:
                circle.append(pick)
        if i % every == 0 and i != 1:
            circle[-1] = world.heavy
        status = "active"
        if i > 10 and rng.random() < 0.04:
            status = "closed" if rng.random() < 0.75 else "consent_withdrawn"
        created = NOW - timedelta(days=rng.uniform(30, 1500))
        since = created.date().isoformat()
        coordinator = str(world.users[circle[0]][0])
        members = [
            {"id": ObjectId(), "user": world.users[u][0], "name": world.users[u][1]}
            | {"profession": world.users[u][2], "care_role": CARE_ROLE[world.users[u][2]]}
            | {"since": since, "added_by": coordinator, "added_at": created}
            for u in circle
        ]
        exclusions = []
        if rng.random() < 0.02:  # a refused account, or professional without an account
            refused = {"name": "Dr Refusé", "recorded_at": NOW}
            other = rng.choice(pros)
            if rng.random() < 0.5 and other not in circle:
                refused["user"] = world.users[other][0]
            else:
                refused["professional"] = ObjectId()
            exclusions = [refused]
        birth, first = rng.choice(SURNAMES), rng.choice(FIRST_NAMES)
        keys = tokens(birth, first)
        oid = ObjectId()
        doc = {"_id": oid, "status": status, "structure": world.structures[s]}
        doc |= {"identity": {"birth_name": birth, "first_names": first, "sex": "F"}}
        doc["identity"]["birth_date"] = f"19{rng.randint(20, 70)}-0{rng.randint(1, 9)}-1{i % 10}"
        doc |= {"consent": {"mode": "oral", "date": since, "collected_by": coordinator}}
        doc |= {"referent": world.users[circle[0]][0], "members": members}
        doc |= {"member_users": [m["user"] for m in members], "exclusions": exclusions}
        doc |= {"contacts": [], "search_keys": keys, "birth_key": compact(birth)}
        doc |= {"sort_name": fold(f"{birth} {first}"), "timeline_seq": 2}
        doc |= {"created_by": coordinator, "created_at": created, "updated_at": created}
        writer.add("dossiers", doc)
        world.dossiers.append((oid, s, circle, status))
    writer.close()


def seed_tasks(rng, world, n_tasks, writer):
    """Tasks routed as app/pathways/routing.py does: to the circle member holding the lane's
    care role, else offered to the dossier's structure (candidates_structure and the lane's
    professions, which a claim keeps: completed tasks carry them too). 10% of the tasks of
    active dossiers are open; the heavy professional holds a third of those of their circles."""
    counts = Counter(rng.choices(range(len(world.dossiers)), k=n_tasks))
    for i, (oid, s, circle, status) in enumerate(world.dossiers):
        n = counts[i]
        if not n:
            continue
        holders = {}
        for u in circle:
            holders.setdefault(CARE_ROLE[world.users[u][2]], u)
        runs = [(ObjectId(), *rng.choice(PATHWAYS)) for _ in range(rng.randint(1, 3))]
        for _ in range(n):
            instance, key, pathway_name = rng.choice(runs)
            spec, title, form, lane = rng.choice(STEPS)
            doc = {"_id": ObjectId(), "instance": instance, "dossier": oid, "spec": spec}
            doc |= {"engine_id": str(ObjectId()), "title": title, "form_key": form}
            doc |= {"care_role": lane, "unresolved": 0, "platform": 0}
            doc |= {"structure": world.structures[s], "pathway": key}
            doc |= {"pathway_name": pathway_name, "candidate_professions": []}
            doc["due_sort"] = NEVER_DUE  # no due date (15%)
            if rng.random() >= 0.15:
                doc["due_at"] = doc["due_sort"] = NOW + timedelta(days=rng.uniform(-30, 60))
            holder = holders.get(lane)
            offered = holder is None or rng.random() < 0.2
            if offered:  # no assignee field until claimed, as MongoEngine saves None
                doc["candidates_structure"] = world.structures[s]
                doc["candidate_professions"] = CARE_ROLE_PROFESSIONS[lane]
            open_ = status == "active" and rng.random() < 0.10
            if open_ and world.heavy in circle and rng.random() < 0.3:
                who, claimed = world.heavy, True
            elif open_ and offered:
                who, claimed = None, False
                if rng.random() < 0.25:  # claimed by someone of the circle
                    who, claimed = rng.choice(circle), True
            else:
                who, claimed = (holder if holder is not None else rng.choice(circle)), offered
            if who is not None:
                doc["assignee"] = world.users[who][0]
            if open_:
                doc |= {"status": "open", "created_at": NOW - timedelta(days=rng.uniform(0, 60))}
                if claimed:
                    doc["claimed_at"] = doc["created_at"] + timedelta(hours=2)
                if who is not None:
                    world.open_assigned[who] += 1
                else:
                    world.open_offered += 1
                    for profession in doc["candidate_professions"]:
                        world.offered[(s, profession)] += 1
            else:
                at = NOW - timedelta(days=rng.uniform(1, 1000))
                doc |= {"status": "cancelled" if rng.random() < 0.02 else "completed"}
                doc |= {"completed_by": doc["assignee"], "completed_at": at}
                doc |= {"entry": ObjectId(), "created_at": at - timedelta(days=3)}
            writer.add("tasks", doc)
    for k in range(max(10, n_tasks // 500)):  # steps of platform processes (account requests)
        at = NOW - timedelta(days=rng.uniform(0, 400))
        doc = {"_id": ObjectId(), "instance": ObjectId(), "engine_id": str(k), "platform": 1}
        doc |= {"spec": "verifier", "title": "Vérifier la demande de compte", "unresolved": 0}
        doc |= {"form_key": "demande_compte", "care_role": "plateforme", "due_sort": NEVER_DUE}
        doc |= {"pathway": "demande_compte", "pathway_name": "Demande de compte"}
        doc |= {"candidate_professions": [], "created_at": at}
        if rng.random() < 0.1:
            doc["status"] = "open"
        else:
            who = world.users[world.admin][0]
            doc |= {"status": "completed", "assignee": who, "completed_by": who}
            doc["completed_at"] = at + timedelta(days=1)
        writer.add("tasks", doc)
    writer.close()


def message_counts(rng, n_discussions, n_messages, long_ids):
    """Messages per discussion: the long ones 10,000-30,000 (at most a quarter of all), the
    rest by a capped Pareto draw (a long tail: most threads short, some of a few thousand)."""
    counts = [0] * n_discussions
    for i in long_ids:
        counts[i] = min(rng.randint(10_000, 30_000), n_messages // (4 * len(long_ids)))
    rest = n_messages - sum(counts)
    weights = [min(rng.paretovariate(1.2), 200.0) for _ in range(n_discussions)]
    for i in long_ids:
        weights[i] = 0.0
    total = sum(weights)
    for i, w in enumerate(weights):
        counts[i] += int(w / total * rest)
    for i in rng.choices(range(n_discussions), weights=weights, k=n_messages - sum(counts)):
        counts[i] += 1
    return counts


def seed_discussions(rng, world, n_messages, writer):
    """A thread per dossier, a 1:1 per user, a group per five users (the first of 8 people);
    their messages, the participations (with unread counts) and the counters per user."""
    n_users = len(world.users)
    discussions = [("dossier", d, circle) for d, (_, _, circle, _) in enumerate(world.dossiers)]
    pairs = set()
    for a in range(n_users):
        b = rng.randrange(n_users)
        if a != b:
            pairs.add((min(a, b), max(a, b)))
    discussions += [("conversation", None, list(pair)) for pair in sorted(pairs)]
    for k in range(n_users // 5):
        discussions.append(
            ("group", k, rng.sample(range(n_users), 8 if k == 0 else rng.randint(3, 10)))
        )
    world.long = list(range(2, 2 + max(1, n_messages // 1_000_000)))  # dossiers 2, 3…
    counts = message_counts(rng, len(discussions), n_messages, world.long)
    unread = Counter()
    for (kind, ref, people), n in zip(discussions, counts, strict=True):
        oid = ObjectId()
        start = NOW - timedelta(days=700 if n > 5000 else rng.uniform(5, 700))
        last = max(start, NOW - timedelta(days=rng.expovariate(1 / 5)))
        doc = {"_id": oid, "kind": "dossier" if kind == "dossier" else "conversation"}
        doc |= {"participants": [] if kind == "dossier" else [world.users[u][0] for u in people]}
        doc |= {"created_by": world.users[people[0]][0], "created_at": start, "last_seq": n}
        if n:
            doc["last_message_at"] = last
        if kind == "dossier":
            doc["dossier"] = world.dossiers[ref][0]
            world.threads[ref] = (oid, n)
        elif kind == "group":
            doc["title"] = f"Groupe {ref}"
            world.groups.append((oid, people, n))
        writer.add("discussions", doc)
        step = (last - start) / max(n, 1)
        for seq in range(1, n + 1):
            author = rng.choice(people)
            message = {"_id": ObjectId(), "discussion": oid, "seq": seq}
            message |= {"author": world.users[author][0], "author_name": world.users[author][1]}
            message |= {"body": rng.choice(BODIES), "attachments": []}
            writer.add("messages", message | {"created_at": start + step * seq})
        if not n:
            continue  # a thread nobody wrote in: no participation yet
        for u in people:
            behind = 0 if rng.random() < 0.7 else min(n, int(rng.paretovariate(1.3)))
            row = {"_id": ObjectId(), "discussion": oid, "user": world.users[u][0]}
            row |= {"kind": doc["kind"], "unread": behind, "read_seq": n - behind}
            row |= {"last_message_at": last, "joined_at": start}
            if kind == "dossier":
                row["dossier"] = doc["dossier"]
            writer.add("discussion_participants", row)
            unread[u] += behind
            world.participations[u] += 1
    for u, (oid, _, _) in enumerate(world.users):
        doc = {"_id": oid, "count": rng.choice((0, 0, 1, 2, 5)), "messages": unread[u]}
        writer.add("notification_unread", doc)
    writer.close()
    return counts


def seed(rng, args, restart):
    for model in MODELS:
        model.ensure_indexes()
    world, writer = World(), Writer(restart)
    steps = [
        ("accounts", lambda: seed_accounts(rng, world, args.users, writer)),
        ("dossiers", lambda: seed_dossiers(rng, world, args.dossiers or args.users * 3, writer)),
        ("tasks", lambda: seed_tasks(rng, world, args.tasks, writer)),
        # What the worker does each night (and `parcours install` after an upgrade).
        ("Suivi's tallies (tallies.recount())", lambda: print(f"  {tallies.recount()} tallies")),
        ("discussions", lambda: seed_discussions(rng, world, args.messages, writer)),
    ]
    counts = None
    for name, step in steps:
        started = time.monotonic()
        counts = step() or counts
        print(f"  {name} seeded in {time.monotonic() - started:.1f} s", flush=True)
    return world, writer.sizes, counts


def percentile(ordered, share):
    return ordered[max(0, math.ceil(len(ordered) * share) - 1)]


LAST_CALLS = []


BUDGET = [60.0]  # seconds per path (--budget): a path that slow stops after 5 timed calls


def measure(name, call, cases, runs, prepare=None):
    """Times `call(*case)` `runs` times over `cases` (in turn), after one warm-up call.
    `prepare(*case)` runs before each call, outside the timing and the count."""
    timings, commands, in_db = [], [], []
    begun = time.monotonic()
    for i in range(runs + 1):
        if len(timings) >= 5 and time.monotonic() - begun > BUDGET[0]:
            break
        case = cases[i % len(cases)]
        if prepare:
            prepare(*case)
        g._get_current_object().__dict__.clear()  # a new request: nothing cached in `g`
        COMMANDS.reset()
        started = time.perf_counter()
        call(*case)
        elapsed = (time.perf_counter() - started) * 1000
        if i:  # the first call is a warm-up
            timings.append(elapsed)
            commands.append(COMMANDS.count)
            in_db.append(sum(ms for _, ms in COMMANDS.durations.values()))
    timings.sort()
    p50, p95 = statistics.median(timings), percentile(timings, 0.95)
    db50 = statistics.median(in_db)
    spread = (
        f"{min(commands)}" if min(commands) == max(commands) else f"{min(commands)}-{max(commands)}"
    )
    print(
        f"| {name:66} | {len(cases):5} | {len(timings):4} | {p50:8.1f} | {p95:8.1f} "
        f"| {timings[-1]:8.1f} | {db50:8.1f} | {spread:>8} "
        f"| {'yes' if p95 < 100 else '**NO**':>12} |",
        flush=True,
    )
    last = (list(COMMANDS.targets), list(COMMANDS.queries), list(COMMANDS.durations.values()))
    LAST_CALLS.append((name, *last))


def print_last_calls(with_plans):
    print("\nWhat the last call of each path sent (round trips in order, repeats counted).")
    if with_plans:
        print("Then the plan of each query shape (per shape the widest instance); README,")
        print('"Queries", says which COLLSCAN are real (docs examined tells).')
    for name, targets, queries, durations in LAST_CALLS:
        sent = Counter(targets)
        print(f"\n{name}: " + ", ".join(f"{t} x{n}" if n > 1 else t for t, n in sent.items()))
        server = " + ".join(f"{ms:.1f}" for _, ms in durations)
        print(f"  round trips, ms: {server} = {sum(ms for _, ms in durations):.1f}")
        if not with_plans:
            continue
        print_plans(queries)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--messages", type=int, default=5_000_000)
    parser.add_argument("--dossiers", type=int, default=0, help="default: users x 3")
    parser.add_argument("--samples", type=int, default=50, help="timed calls per path")
    parser.add_argument("--budget", type=float, default=60, help="seconds at most per path")
    parser.add_argument("--no-plans", action="store_true", help="skip the query plans")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    rng, BUDGET[0] = random.Random(args.seed), args.budget
    with bench_server(LARGE, prefix="inbox_bench_") as (server, restart):
        app = create_app({"MONGODB_URI": server.uri_for("bench"), "SECRET_KEY": "bench"})
        with app.app_context(), app.test_request_context():
            print(f"seeding ({args.users} users, {args.tasks} tasks, {args.messages} messages)")
            started = time.monotonic()
            world, written, counts = seed(rng, args, restart)
            seconds = time.monotonic() - started
            total = sum(written.values())
            print(f"seeded {total} documents in {seconds:.0f} s ({total / seconds:.0f}/s)")
            sizes = {c: database()[c].estimated_document_count() for c in COLLECTIONS}
            print(f"collections: {sizes}")
            run(world, counts, rng, args.samples)
            print_last_calls(not args.no_plans)


def describe(world, counts):
    assigned = sorted(world.open_assigned.values())
    print(f"open tasks: {sum(assigned)} assigned, {world.open_offered} to take")
    print(f"open tasks assigned per assignee: median {assigned[len(assigned) // 2]}, "
          f"max {assigned[-1]}")  # fmt: skip
    threads = sorted(counts)
    median, p99 = threads[len(threads) // 2], percentile(threads, 0.99)
    print(f"messages per discussion: median {median}, p99 {p99}, max {threads[-1]}")
    rows = sorted(world.participations.values())
    print(f"participations per user: median {rows[len(rows) // 2]}, max {rows[-1]}")


def run(world, counts, rng, runs):
    describe(world, counts)
    users = {u.id: u for u in User.objects}  # User documents as the app loads them
    user = lambda index: users[world.users[index][0]]  # noqa: E731
    top = max(world.open_assigned, key=world.open_assigned.get)
    heavy = user(top)
    sample = [i for i in world.professionals if i not in (top, world.admin)]
    picked = rng.sample(sample, min(50, len(sample)))
    pros = [user(i) for i in picked]
    others = [i for s in range(1, N_STRUCTURES) for i in world.coordinators[s]]
    coordinators = [user(i) for i in rng.sample(others, min(50, len(others)))]
    largest = [user(i) for i in world.coordinators[0]]
    candidates, s, profession = [], 0, ""
    for s, profession in (pair for pair, _ in world.offered.most_common()):  # people to take them
        candidates = [
            u for u in users.values()
            if u.profession == profession and u.roles_in(world.structures[s]) and u.id != heavy.id
        ][:20]  # fmt: skip
        if candidates:
            break
    offered = world.offered[(s, profession)]
    listed = sum(1 for i in picked if i in world.in_directory)
    print(f"typical professionals: {len(pros)}, {listed} of them in the directory")
    print(f"heaviest assignee: {world.open_assigned[top]} open tasks; largest structure: "
          f"{len(world.coordinators[0])} coordinators; busiest candidates: {len(candidates)} "
          f"'{profession}' of structure {s}, {offered} open tasks offered to them")  # fmt: skip
    print(f"\nload average before measuring: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print("db ms: the median time of a call's commands, as the driver saw them (round trips).")
    print(f"\n| {'path':66} | cases | runs | {'p50 ms':>8} | {'p95 ms':>8} | {'max ms':>8} "
          f"| {'db ms':>8} | commands | p95 < 100 ms |")  # fmt: skip
    print(f"|{'-' * 68}|------:|-----:|---------:|---------:|---------:|---------:|---------:"
          "|:------------:|")  # fmt: skip

    def page(actor, scope, overdue=False, sort="due", number=1):
        filters = inbox.Filters(overdue=overdue, sort=sort)
        inbox.tasks(actor, scope, filters, page=number, per_page=30)

    one = lambda people: [(p,) for p in people]  # noqa: E731
    for label, people in (("typical professionals", pros), ("heavy assignee", [heavy]),
                          ("coordinators of the largest structure", largest)):  # fmt: skip
        measure(f"inbox mine p1, {label}", page, [(p, "mine") for p in people], runs)
    admin = user(world.admin)
    for label, people in (("typical professionals", pros), ("heavy assignee", [heavy]),
                          ("busiest candidates", candidates),
                          ("coordinators of the largest structure", largest),
                          ("a platform administrator", [admin])):  # fmt: skip
        if people:
            measure(f"inbox available p1, {label}", page, [(p, "available") for p in people], runs)
    for label, people in (("typical coordinators", coordinators),
                          ("coordinators of the largest structure", largest)):  # fmt: skip
        measure(f"inbox followed p1, {label}", page, [(p, "followed") for p in people], runs)
        overdue = [(p, "followed", True) for p in people]
        measure(f"inbox followed overdue p1, {label}", page, overdue, runs)
    deep = [(p, "followed", False, "due", 10) for p in largest]
    measure("inbox followed p10, largest structure", page, deep, runs)
    for label, people in (("typical professionals", pros), ("heavy assignee", [heavy])):
        measure(f"inbox mine sort=recent p1, {label}", page,
                [(p, "mine", False, "recent") for p in people], runs)  # fmt: skip
    # The /taches page also lists the scope's dossiers and pathways for its filters.
    measure("inbox choices (filters) mine, heavy assignee", inbox.choices, [(heavy, "mine")], runs)
    followed = [(p, "followed") for p in largest]
    measure("inbox choices (filters) followed, largest structure", inbox.choices, followed, runs)

    def forget(actor):
        UnreadCount._get_collection().update_one({"_id": actor.id}, {"$unset": {"tasks_at": ""}})

    for label, people in (("typical professionals", pros), ("heavy assignee", [heavy]),
                          ("coordinators of the largest structure", largest),
                          ("a platform administrator", [admin])):  # fmt: skip
        measure(f"counters() recount, {label}", inbox.counters, one(people), runs, forget)
    for actor in pros + largest:  # counted now: the timed calls find them under a minute old
        g._get_current_object().__dict__.clear()
        inbox.counters(actor)
    measure("counters() cached, typical professionals", inbox.counters, one(pros), runs)
    measure("counters() cached, largest structure", inbox.counters, one(largest), runs)
    measure("navigation_counters() (the nav's document)", notifications.navigation_counters,
            one(pros), runs)  # fmt: skip

    most = max(world.participations, key=world.participations.get)
    busiest = user(most)
    measure("discussions mine(), typical professionals", discussions.mine, one(pros), runs)
    label = f"discussions mine(), most participations ({world.participations[most]})"
    measure(label, discussions.mine, [(busiest,)], runs)

    def thread_cases(indexes):
        """(reader, discussion, dossier): a member of the circle reads the dossier's thread."""
        found = {d.id: d for d in Discussion.objects(id__in=[world.threads[i][0] for i in indexes])}
        dossier = {d.id: d for d in Dossier.objects(id__in=[world.dossiers[i][0] for i in indexes])}
        return [
            (user(rng.choice(world.dossiers[i][2])), found[world.threads[i][0]],
             dossier[world.dossiers[i][0]])
            for i in indexes
        ]  # fmt: skip

    def open_thread(actor, discussion, dossier):  # the dossier's "Discussion" tab
        discussions.dossier_thread(actor, dossier)

    def open_by_id(actor, discussion, dossier):  # /messages/<id> and its live poll
        discussions.get_discussion(actor, str(discussion.id))

    median = sorted(counts)[len(counts) // 2]
    typical = [i for i, (_, n) in world.threads.items() if max(5, median) <= n <= 200]
    typical = [i for i in typical if world.dossiers[i][3] == "active"] or [
        i for i, (_, n) in world.threads.items() if n and world.dossiers[i][3] == "active"
    ]
    typical = thread_cases(rng.sample(typical, min(50, len(typical))))
    long = thread_cases(world.long)
    n_long = ", ".join(str(d.last_seq) for _, d, _ in long)
    measure("dossier_thread() (opening a dossier's thread)", open_thread, typical, runs)
    measure("get_discussion() (a thread by id)", open_by_id, typical, runs)
    measure("thread read() p1, typical thread", discussions.read, typical, runs)
    measure(f"thread read() p1, longest threads ({n_long})", discussions.read, long, runs)
    middle = [(u, d, o, d.last_seq // 2) for u, d, o in long]
    measure("thread read(before=last/2), longest threads", discussions.read, middle, runs)
    poll = [(u, d, o, None, d.last_seq - 2) for u, d, o in long]
    measure("thread read(after=last-2) (live poll), longest", discussions.read, poll, runs)
    latest = [(d, Message.objects(discussion=d.id, seq=d.last_seq).first()) for _, d, _ in long]
    measure("thread readers() of the last message, longest", discussions.readers, latest, runs)

    def post(actor, discussion, dossier):
        discussions.post(actor, discussion, dossier, "Passage prévu demain matin, merci.")

    [(_, discussion, dossier)] = thread_cases([1])
    circle = [(user(i), discussion, dossier) for i in world.dossiers[1][2]]
    measure(f"post() in a dossier thread ({len(circle)} in the circle)", post, circle, runs)
    group_id, people, _ = world.groups[0]
    group = Discussion.objects.get(id=group_id)
    members = [(user(i), group, None) for i in people]
    measure(f"post() in a group conversation ({len(people)} people)", post, members, runs)


if __name__ == "__main__":
    main()
