"""Dossiers benchmark: "Mes dossiers", identity search and timeline pages at scale.

Run: .venv/bin/python tests/perf/dossiers_bench.py [--dossiers 100000] [--entries 1000000]
Quick run: add --dossiers 5000 --entries 50000. Target (issue): p95 under 100 ms for each.

Seeds a throw-away embedded SecantusDB server with raw insert_many batches shaped like
app/dossiers/models.py, then times the real services: users and dossiers are loaded before the
timed part, `g` is cleared before each call, the first call is a warm-up. Prints p50/p95/max,
the MongoDB commands per call and the plan of every query shape the last call sent.
Prints numbers; asserts nothing.
"""

import argparse
import os
import random
import statistics
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from bson import ObjectId
from flask import g
from pymongo import monitoring

from app.db import CommandCounter


class Recorder(CommandCounter):
    """Counts the commands, and keeps the queries of the last call for their plans."""

    def reset(self):
        super().reset()
        self.queries = []

    def started(self, event):
        super().started(event)
        if event.command_name in ("find", "aggregate"):
            self.queries.append(dict(event.command))


# Seeding writes over 3 million documents (2.3 GB on disk). With SecantusDB's default 1 GB
# WiredTiger cache the inserts stall after ~1.6 million (the writer ends up evicting pages
# itself, seen inside the oplog's periodic walk): the bench gives the server a cache that
# holds the data set and keeps the whole oplog (no pruning walk over deleted entries), and
# restarts it every RESTART_EVERY inserts (the same files, reopened). The timed reads come
# after the seeding.
RESTART_EVERY = 1_000_000

COMMANDS = Recorder()
COMMANDS.reset()
monitoring.register(COMMANDS)

from benchkit import LARGE, bench_server, print_plans  # noqa: E402

from app import create_app  # noqa: E402 - after the listener, on purpose
from app.accounts.models import Membership, User  # noqa: E402
from app.db import database  # noqa: E402
from app.dossiers import listing, timeline  # noqa: E402
from app.dossiers.models import Dossier, Entry, TimelineItem  # noqa: E402
from app.reference import DATA_CATEGORIES, PROFESSIONS, profession_category  # noqa: E402
from app.structures.models import Structure  # noqa: E402
from app.text import compact, fold, tokens  # noqa: E402

# Roughly by frequency: the first ones are drawn most often (weights 1/sqrt(rank)).
SURNAMES = """Martin Bernard Thomas Petit Robert Richard Durand Dubois Moreau Laurent Simon Michel
Lefèbvre Leroy Roux David Bertrand Morel Fournier Girard Bonnet Dupont Lambert Fontaine Rousseau
Vincent Muller Lefèvre Faure André Mercier Blanc Guérin Boyer Garnier Chevalier François Legrand
Gauthier Garcia Perrin Robin Clément Morin Nicolas Henry Roussel Mathieu Gautier Masson Marchand
Duval Denis Dumont Marie Lemaire Noël Meyer Dufour Meunier Brun Blanchard Giraud Joly Rivière
Lucas Brunet Gaillard Barbier Arnaud Martinez Gérard Roche Renard Schmitt Roy Leroux Colin Vidal
Caron Picard Roger Fabre Aubert Lemoine Renaud Dumas Lacroix Olivier Philippe Bourgeois Pierre
Benoît Rey Leclerc Payet Rolland Leclercq Guillaume Lecomte Lopez Jean Dupuy Guillot Hubert
Berger Carpentier Sanchez Dupuis Moulin Louis Deschamps Huet Vasseur Perez Boucher Fleury Royer
Klein Jacquet Adam Paris Poirier Marty Aubry Guyot Carré Charles Renault Charpentier Ménard
Maillard Baron Bertin Bailly Hervé Schneider Fernandez Collet Léger Bouvier Julien Prévost Millet
Perrot Daniel Cousin Germain Breton Besson Langlois Rémy Pelletier Lévêque Perrier Leblanc Barré
Lebrun Marchal Weber Mallet Hamon Boulanger Jacob Monnier Michaud Rodriguez Guichard Gillet
Étienne Grondin Poulain Tessier Chevallier Collin Chauvin Bouchet Gay Lemaître Bénard Maréchal
Humbert Reynaud Antoine Hoarau Perret Barthélemy Cordier Pichon Lejeune Gilbert Lamy Delaunay
Pasquier Carlier Laporte Martineau Martins Hélias Côté Besnard Péron Lévy Bérenger""".split()  # noqa: SIM905
FEMALE = """Marie Jeanne Françoise Monique Catherine Nathalie Isabelle Sylvie Hélène Anne Christine
Martine Nicole Madeleine Suzanne Jacqueline Simone Denise Louise Yvonne Thérèse Chantal Danielle
Brigitte Véronique Valérie Sandrine Céline Sophie Stéphanie Aurélie Émilie Julie Camille Léa
Manon Chloé Inès Océane Mathilde Élise Geneviève Odette Paulette Germaine Lucienne Renée Andrée
Josiane Ginette Régine""".split()  # noqa: SIM905
MALE = """Jean Pierre Michel André Philippe Louis René Alain Jacques Bernard Marcel Daniel Roger
Robert Paul Claude Christian Henri Georges Nicolas François Patrick Gérard Christophe Joseph
Julien Maurice Raymond Lucien Frédéric Éric Stéphane Laurent Thierry Pascal Olivier Sébastien
David Guillaume Thomas Hugo Lucas Théo Mathéo Noé Raphaël Gaël Jérôme Benoît Gilles""".split()  # noqa: SIM905
# The care role of a member, by profession category (the coordinator is the first member).
CARE_ROLES = {"medical": "medecin_traitant", "pharmacie": "pharmacien", "paramedical": "infirmier"}
CARE_ROLES |= {"social": "assistant_social", "aide_domicile": "aide_a_domicile"}
CARE_ROLES |= {"psychologie": "psychologue"}
HEAVY = 1500  # dossiers of the heavy user
BATCH = 5000
COLLECTIONS = ("dossiers", "entries", "timeline", "users")
NOW = datetime.now(UTC)


def drawer(rng, names):
    """Draws a name, the first ones of the list most often (weights 1/sqrt(rank))."""
    cumulative = [sum(1 / (r + 1) ** 0.5 for r in range(i + 1)) for i in range(len(names))]
    return lambda: rng.choices(names, cum_weights=cumulative)[0]


def identity(rng, surname, female, male):
    sex = rng.choice("FM")
    first = female if sex == "F" else male
    first_names = first() if rng.random() < 0.7 else f"{first()} {first()}"
    used = surname() if sex == "F" and rng.random() < 0.4 else None
    born = date(1920, 1, 1) + timedelta(days=rng.randrange(365 * 91))
    found = {"birth_name": surname(), "first_names": first_names, "birth_date": born.isoformat()}
    found["sex"] = sex
    if used:
        found["used_name"] = used
    return found


def seed_accounts(rng, n_users):
    """20 structures, ten coordinators in each, professionals; the last user is the heavy one."""
    for model in (Dossier, Entry, TimelineItem, User, Structure):
        model.ensure_indexes()
    names = [f"Structure {i}" for i in range(20)]
    structures = [Structure(key=n, name=n, sector="medico_social", kind="dac") for n in names]
    Structure.objects.insert(structures)
    professions = [p for p in PROFESSIONS if profession_category(p) in CARE_ROLES]
    surname, first = drawer(rng, SURNAMES), drawer(rng, FEMALE + MALE)
    users = []
    for i in range(n_users):
        coordinator = i < 200
        profession = "coordinateur" if coordinator else rng.choice(professions)
        roles = ["coordinator"] if coordinator else ["professional"]
        user = User(email=f"user{i}@example.org", name=f"{first()} {surname()}")
        user.profession = "10" if i == n_users - 1 else profession
        user.memberships = [Membership(structure=structures[i % 20].id, roles=roles)]
        user.clean()
        users.append(user)
    User.objects.insert(users, load_bulk=False)
    loaded = {u.email: u for u in User.objects}  # User documents as the app loads them
    return structures, [loaded[u.email] for u in users]


def dossier_doc(oid, person, structure, circle, created, updated, n_items):
    who, since = circle[0], created.date().isoformat()
    members = [
        {"id": ObjectId(), "user": u.id, "name": u.name, "profession": u.profession}
        | {"care_role": "coordinateur" if k == 0 else CARE_ROLES[profession_category(u.profession)]}
        | {"since": since, "added_by": str(who.id), "added_at": created}
        for k, u in enumerate(circle)
    ]
    consent = {"mode": "oral", "date": since, "collected_by": str(who.id)}
    shown = f"{person.get('used_name') or person['birth_name']} {person['first_names']}"
    names = (person["birth_name"], person.get("used_name"), person["first_names"])
    doc = {"_id": oid, "identity": person, "contacts": [], "status": "active", "exclusions": []}
    doc |= {"structure": structure, "referent": who.id, "created_by": str(who.id)}
    doc |= {"consent": consent | {"collected_by_name": who.name}, "members": members}
    keys = tokens(*names)
    doc |= {"member_users": [u.id for u in circle], "search_keys": keys}
    doc |= {"birth_key": compact(person["birth_name"])}
    doc |= {"sort_name": fold(shown), "timeline_seq": n_items}
    return doc | {"created_at": created, "updated_at": updated}


def entry_docs(rng, oid, seq, author, structure_name, at):
    """An entry and its timeline item."""
    entry, kind = ObjectId(), "form" if rng.random() < 0.3 else "note"
    common = {"dossier": oid, "category": rng.choice(list(DATA_CATEGORIES)), "author": author.id}
    common["visibility"] = rng.choices(["private", "shared", "public"], (2, 3, 5))[0]
    if kind == "form":
        content = {"form": "evaluation_multidimensionnelle", "form_version": 1}
        content["data_json"] = '{"gir": 3, "aidants": {"aidant_present": true}}'
    else:
        content = {"text": "Passage à domicile, situation stable, à revoir dans un mois."}
    doc = common | content | {"_id": entry, "kind": kind, "title": f"{kind.title()} {seq}"}
    doc |= {"author_name": author.name, "author_profession": author.profession}
    doc |= {"author_structure": structure_name, "version": 1, "timeline_seq": seq}
    doc |= {"created_at": at, "updated_at": at}
    item = common | {"_id": ObjectId(), "seq": seq, "kind": "entry", "entry": entry}
    item |= {"summary": f"{kind.title()} ajoutée", "actor_name": author.name}
    item |= {"actor_profession": author.profession, "actor_structure": structure_name}
    return doc, item | {"time": at, "details": {}}


def seed(rng, n_dossiers, n_entries, n_users, restart=lambda: None):
    structures, users = seed_accounts(rng, n_users)
    names = {s.id: s.name for s in structures}
    coordinators = [
        [u for u in users[:200] if u.memberships[0].structure == s.id] for s in structures
    ]
    heavy, others = users[-1], users[200:-1]
    surname, female, male = drawer(rng, SURNAMES), drawer(rng, FEMALE), drawer(rng, MALE)
    n_long = max(1, n_dossiers // 2000)  # the first ones, with 1,000 to 5,000 entries
    long_counts = [min(rng.randint(1000, 5000), n_entries // (2 * n_long)) for _ in range(n_long)]
    counts = Counter(rng.choices(range(n_long, n_dossiers), k=n_entries - sum(long_counts)))
    counts.update(dict(enumerate(long_counts)))
    db, buffers = database(), {"dossiers": [], "entries": [], "timeline": []}
    written = {"since_restart": 0}

    def flush(force=False):
        for name, docs in buffers.items():
            if docs and (force or len(docs) >= BATCH):
                db[name].insert_many(docs, ordered=False)
                written["since_restart"] += len(docs)
                docs.clear()
        if written["since_restart"] >= RESTART_EVERY:
            written["total"] = written.get("total", 0) + written["since_restart"]
            print(f"  {written['total']} documents written; restarting the server", flush=True)
            restart()
            written["since_restart"] = 0

    kept = {"long": [], "typical": [], "per_user": Counter()}
    for i in range(n_dossiers):
        circle = [rng.choice(coordinators[i % 20])] + rng.sample(others, rng.randint(1, 5))
        if i % max(1, n_dossiers // HEAVY) == 0:
            circle.append(heavy)
        kept["per_user"].update(u.id for u in circle)
        created = NOW - timedelta(days=rng.uniform(1, 1500))
        updated = created + (NOW - created) * rng.random()
        oid, person, n = ObjectId(), identity(rng, surname, female, male), counts[i]
        doc = dossier_doc(oid, person, structures[i % 20].id, circle, created, updated, n + 2)
        if i >= n_long and rng.random() < 0.02:
            doc["status"] = "closed"
        buffers["dossiers"].append(doc)
        header = {"dossier": oid, "author": circle[0].id, "actor_name": circle[0].name}
        buffers["timeline"] += [
            header | {"_id": ObjectId(), "seq": 1, "kind": "dossier", "summary": "Dossier créé"},
            header | {"_id": ObjectId(), "seq": 2, "kind": "consent", "summary": "Consentement"},
        ]
        for seq in range(3, n + 3):
            author = rng.choice(circle)
            at = created + (updated - created) * seq / (n + 2)
            structure_name = names[author.memberships[0].structure]
            entry, item = entry_docs(rng, oid, seq, author, structure_name, at)
            buffers["entries"].append(entry)
            buffers["timeline"].append(item)
        if i < n_long:
            kept["long"].append((oid, circle))
        elif len(kept["typical"]) < 200 and i % max(1, n_dossiers // 200) == 0:
            kept["typical"].append((oid, circle, person))
        flush()
    flush(force=True)
    return users, heavy, kept


PLANS = []


def measure(name, call, cases, runs):
    timings, commands = [], []
    for i in range(runs + 1):
        g._get_current_object().__dict__.clear()  # a new request: no cached structures, matrix
        COMMANDS.reset()
        started = time.perf_counter()
        call(*cases[i % len(cases)])
        if i:  # the first call is a warm-up
            timings.append((time.perf_counter() - started) * 1000)
            commands.append(COMMANDS.count)
    timings.sort()
    p95 = timings[int(len(timings) * 0.95) - 1]
    print(
        f"{name:50} {runs:4} {statistics.median(timings):8.1f} {p95:8.1f} {timings[-1]:8.1f}  "
        f"{min(commands):3}-{max(commands):<3} {'MISS' if p95 >= 100 else 'ok'}",
        flush=True,
    )
    PLANS.append((name, list(COMMANDS.queries)))


def print_path_plans():
    print("\nQuery plans (the last call of each path; per shape the widest instance).")
    print('README, "Queries", says which COLLSCAN are real (docs examined tells).')
    for name, queries in PLANS:
        print(f"\n{name}")
        print_plans(queries)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dossiers", type=int, default=100_000)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=60)
    args = parser.parse_args()
    rng = random.Random(42)
    with bench_server(LARGE, prefix="dossiers_bench_") as (server, restart):
        app = create_app({"MONGODB_URI": server.uri_for("bench"), "SECRET_KEY": "bench"})
        with app.app_context(), app.test_request_context():
            started = time.monotonic()
            users, heavy, kept = seed(rng, args.dossiers, args.entries, args.users, restart)
            seconds = time.monotonic() - started
            sizes = {c: database()[c].estimated_document_count() for c in COLLECTIONS}
            print(f"seeded {sizes} in {seconds:.0f} s ({sum(sizes.values()) / seconds:.0f}/s)")
            load = sorted(kept["per_user"][u.id] for u in users[:-1])
            print(f"dossiers per user: median {load[len(load) // 2]}, max {load[-1]}")
            run(users, heavy, kept, rng, args.runs)
        print_path_plans()


def run(users, heavy, kept, rng, runs):
    pros = [(u,) for u in rng.sample(users[200:-1], 50)]
    coordinators = [(u,) for u in rng.sample(users[:200], 50)]
    print(f"\nload average before measuring: {os.getloadavg()[0]:.2f} (on {os.cpu_count()} CPUs)")
    print(f"{'path':50} runs {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  cmds    p95<100")

    def mine(user, query=""):
        listing.list_dossiers(user, query=query, scope="mine", sort="activity", per_page=20)

    measure("Mes dossiers, professional", mine, pros, runs)
    measure("Mes dossiers, coordinator", mine, coordinators, runs)
    measure(f"Mes dossiers, heavy user ({kept['per_user'][heavy.id]})", mine, [(heavy,)], runs)
    measure("Mes dossiers q='mar', professional", mine, [(u, "mar") for (u,) in pros], runs)
    measure("Mes dossiers q='mar', heavy user", mine, [(heavy, "mar")], runs)

    def by_name(user):
        listing.list_dossiers(user, scope="mine", sort="name", per_page=20)

    measure("Mes dossiers by name, heavy user", by_name, [(heavy,)], runs)
    measure("Mes dossiers by name, coordinator", by_name, coordinators, runs)

    search, actor = listing.search_identity, pros[0][0]
    people = [p for _, _, p in kept["typical"]]
    # What a search needs: the whole birth name and the birth date (or the INS).
    whole = [(actor, {"birth_name": p["birth_name"], "birth_date": p["birth_date"]})
             for p in people]  # fmt: skip
    measure("search birth name + birth date (existing)", search, whole, runs)
    common = [(actor, {"birth_name": name, "birth_date": "1941-03-12"}) for name in SURNAMES[:2]]
    measure(f"search {' / '.join(SURNAMES[:2])} + a date (common names)", search, common, runs)

    def viewers(found):  # the dossiers loaded outside the timed part; a member views
        dossiers = {d.id: d for d in Dossier.objects(id__in=[oid for oid, *_ in found])}
        return [(circle[-1], dossiers[oid]) for oid, circle, *_ in found]

    def page(user, dossier, before=None, kind=None):
        timeline.page(user, dossier, before=before, kind=kind, per_page=20)

    typical = [v for v in viewers(kept["typical"]) if v[1].status == "active"]
    long = viewers(kept["long"])
    measure("timeline page 1, typical dossier", page, typical, runs)
    measure(f"timeline page 1, long dossiers ({len(long)})", page, long, runs)
    deep = [(u, d, d.timeline_seq // 2) for u, d in long]
    measure("timeline page at seq/2, long dossiers", page, deep, runs)
    # The timeline's filter: "Formulaires et notes"; "Documents" (there are none: 7 windows).
    kind = [(u, d, None, "entry") for u, d in typical]
    measure("timeline kind=entry page 1, typical dossier", page, kind, runs)
    none = [(u, d, None, "document") for u, d in long]
    measure("timeline kind=document (none), long dossiers", page, none, runs)


if __name__ == "__main__":
    main()
