"""Directory benchmark: the RPPS import's time and memory at 100,000 and 400,000 lines, and
the search's p50/p95 among 200,000 professionals.

    PYTHONUNBUFFERED=1 .venv/bin/python tests/perf/directory_bench.py [--lines 100000 400000]
        [--search 200000] [--samples 30]      (--lines 0 or --search 0 skips that half)

Files in the national format are made from the synthetic sample of ../shared/data (each copy
of its 2,362 rows gets new identifiers: the same people, other numbers). For each size: a
first import into an empty directory (everything created), the same file again (nothing to
write), then a newer file (1 % changed, 1 % gone). Printed: seconds, and the process's peak
resident memory after each import (the same process runs every size: flat memory means the
peak does not move with the file) — what grows with the file is 16 bytes per person.

The search half writes its professionals directly (raw insert_many of what the import
stores, keys by app.directory.models.search_fields), with names of a skewed distribution
(a few very common surnames, a long tail, first names shared by many: what makes a name
beginning expensive; the commonest is 0.45% of everyone), 13 departments of skewed sizes,
professions in national proportions (a third nurses), specialties for the doctors, 5% with
an account. Each query kind is timed on `--samples` different values through
app.directory.search.search (first page of 20, the entries read whole), then a few pages
further with the cursor. Prints numbers; asserts nothing.
"""

import argparse
import random
import resource
import statistics
import time
from pathlib import Path

from benchkit import LARGE, bench_server
from bson import ObjectId

from app import create_app, policy
from app.directory import imports, search
from app.directory.models import Professional, search_fields

SAMPLE = (
    Path(__file__).resolve().parents[3] / "shared/data/PS_LibreAcces_Personne_activite_sample.txt"
)


COUNTS = ("created", "updated", "unchanged", "deactivated")


def make_file(path, lines, changed=0.0, gone=0.0):
    """`lines` rows made from the sample; `changed` of the persons get another street, `gone`
    of them are left out (the same choice for every size, by identifier)."""
    header, *rows = SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)
    written, copy = 0, 0
    with path.open("w", encoding="utf-8") as out:
        out.write(header)
        while written < lines:
            for row in rows:
                values = row.split("|")
                if values[0] == "8":
                    values[1] = "1" + f"{copy:04d}" + values[1][-6:]
                else:
                    values[1] = f"{copy:04d}" + values[1][-5:]
                values[2] = values[0] + values[1]
                draw = int(values[1]) % 1000 / 1000
                if draw < gone:
                    continue
                if draw < gone + changed:
                    values[32] = "DES ACACIAS"
                out.write("|".join(values))
                written += 1
                if written >= lines:
                    break
            copy += 1


def timed_import(path):
    """(seconds, the process's peak resident memory in MB so far, the report). The time is
    taken without tracemalloc (which slows allocations down several times)."""
    started = time.perf_counter()
    record = imports.run(policy.SYSTEM, path)
    seconds = time.perf_counter() - started
    assert record.status == "done", record.error
    return seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, record.report


# --- the search ---------------------------------------------------------------------------------


def words(text):
    return tuple(text.split())


COMMON = words(
    "MARTIN BERNARD DUBOIS THOMAS ROBERT RICHARD PETIT DURAND LEROY MOREAU SIMON "
    "LAURENT LEFÈBVRE MICHEL GARCIA DAVID BERTRAND ROUX VINCENT FOURNIER MOREL GIRARD "
    "ANDRÉ MERCIER DUPONT LAMBERT BONNET FRANÇOIS MARTINEZ LEGRAND"
)
# Real two-letter surnames (a two-letter word is searched as a whole name).
SHORT = words("LY LE NG DO HO VU LI MA WU BA")
SYLLABLES = words(
    "ba be bi bo bu ca ce ci co cu da de di do du fa fe fi fo ga ge gi go la le li lo "
    "lu ma me mi mo mu na ne ni no pa pe pi po ra re ri ro sa se si so ta te ti to va "
    "ve vi vo"
)
FIRST = words(
    "Marie Jean Pierre Michel Anne Philippe Nathalie Isabelle Sylvie Catherine "
    "Françoise Nicolas Christophe Stéphane Sandrine Julien Camille Léa Manon Chloé "
    "Hugo Lucas Louis Emma Jeanne Paul Agnès Hélène Noël Anaïs Antoine Thomas Sophie "
    "Claire"
)
# Occitanie: department, its communes (postcode) and its share of the professionals.
PLACES = {
    "31": ({"Toulouse": "31000", "Muret": "31600", "Colomiers": "31770"}, 25),
    "34": ({"Montpellier": "34000", "Béziers": "34500", "Sète": "34200"}, 20),
    "30": ({"Nîmes": "30000", "Alès": "30100"}, 12), "66": ({"Perpignan": "66000"}, 8),
    "11": ({"Carcassonne": "11000", "Narbonne": "11100"}, 6), "81": ({"Albi": "81000"}, 6),
    "65": ({"Tarbes": "65000", "Lourdes": "65100"}, 4), "82": ({"Montauban": "82000"}, 4),
    "12": ({"Rodez": "12000", "Millau": "12100"}, 4), "32": ({"Auch": "32000"}, 3),
    "46": ({"Cahors": "46000"}, 3), "09": ({"Foix": "09000"}, 3), "48": ({"Mende": "48000"}, 2),
}  # fmt: skip
PROFESSIONS = {"60": 35, "10": 22, "21": 9, "70": 10, "40": 5, "50": 3, "91": 3, "80": 2,
               "92": 1, "96": 1, "98": 1, "assistant_social": 3, "aide_a_domicile": 5}  # fmt: skip
SPECIALTIES = ("Médecine générale", "Médecine générale", "Médecine générale", "Cardiologie et "
               "maladies vasculaires", "Psychiatrie", "Gériatrie", "Neurologie", "Pédiatrie",
               "Pneumologie", "Oncologie médicale")  # fmt: skip


def surnames(rng, n=40_000):
    """The surname pool: the common ones first, then made-up ones (2-4 syllables)."""
    made = set(COMMON)
    while len(made) < n:
        made.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).upper())
    rest = sorted(made - set(COMMON) - set(SHORT))
    rng.shuffle(rest)
    for rank, name in enumerate(SHORT):  # spread from fairly common to rare
        rest.insert(50 + rank * 400, name)
    return list(COMMON) + rest


def seed_professionals(rng, n, batch=5000, report_every=100_000):
    pool = surnames(rng)
    # Zipf-like, shifted: the commonest name is 0.45% of everyone (MARTIN is about 0.35% of
    # France), the 100 commonest 20%.
    weights = [1 / (rank + 31) for rank in range(len(pool))]
    departments = list(PLACES)
    shares = [PLACES[d][1] for d in departments]
    professions, profession_shares = list(PROFESSIONS), list(PROFESSIONS.values())
    collection, docs, now, kept = Professional._get_collection(), [], time.time(), []
    for index in range(n):
        profession = rng.choices(professions, profession_shares)[0]
        sites = []
        for _ in range(1 if rng.random() < 0.85 else 2):
            department = rng.choices(departments, shares)[0]
            commune, postcode = rng.choice(list(PLACES[department][0].items()))
            sites.append({"key": f"S{index}", "name": "Cabinet", "address": "1 rue du Port",
                          "postcode": postcode, "commune": commune, "department": department,
                          "phone": "0561000000"})  # fmt: skip
        doc = {
            "_id": ObjectId(), "rpps": f"1{index:010d}", "id_type": "rpps",
            "last_name": rng.choices(pool, weights)[0], "first_name": rng.choice(FIRST),
            "profession": profession,
            "specialty": rng.choice(SPECIALTIES) if profession == "10" else "",
            "sites": sites, "source": "rpps", "active": rng.random() > 0.02,
            "user": ObjectId() if rng.random() < 0.05 else None,
        }  # fmt: skip
        doc["search_keys"] = search.tokens(doc["last_name"], doc["first_name"])
        doc["sort_name"], doc["facets"] = search_fields(doc)
        docs.append(doc)
        if rng.random() < 2000 / n:
            kept.append(doc)  # the values the searches ask for
        if len(docs) == batch:
            collection.insert_many(docs, ordered=False)
            docs = []
            if (index + 1) % report_every == 0:  # flat without retryable writes: writes_bench
                print(f"  {index + 1} written in {time.time() - now:.0f} s", flush=True)
    if docs:
        collection.insert_many(docs, ordered=False)
    return time.time() - now, kept


def query_cases(rng, samples, kept):
    """(label, [criteria dicts]) of the kinds of searches people make."""
    rows = [r for r in kept if r.get("active", True)]
    pick = lambda: rng.choice(rows)  # noqa: E731
    site = lambda row: rng.choice(row["sites"])  # noqa: E731
    common = [r for r in rows if r["last_name"] in COMMON[:5]] or rows

    def cases(make):
        return [make() for _ in range(samples)]

    def both(*keys):  # values of one professional (and one of their sites)
        row = pick()
        values = {**row, **site(row)}
        return {key: values[key] for key in keys}

    def with_first_name():
        row = pick()
        return {"name": f"{row['last_name']} {row['first_name'][:3]}"}

    def specialty():
        return {
            "specialty": rng.choice(SPECIALTIES[3:]),
            "department": rng.choice(list(PLACES)[:4]),
        }

    return [
        ("name, 5 first letters (\"lefeb\")", cases(lambda: {"name": pick()["last_name"][:5]})),
        ("name and first name (\"martin jea\")", cases(with_first_name)),
        ("a very common surname, whole (MARTIN…)",
         cases(lambda: {"name": rng.choice(common)["last_name"]})),
        ("name, 3 letters", cases(lambda: {"name": pick()["last_name"][:3]})),
        ("a two-letter surname (\"ly\")", cases(lambda: {"name": rng.choice(SHORT)})),
        ("a first name alone (\"marie\")", cases(lambda: {"name": pick()["first_name"]})),
        ("profession alone", cases(lambda: both("profession"))),
        ("profession + department", cases(lambda: both("profession", "department"))),
        ("commune", cases(lambda: both("commune"))),
        ("postcode + profession", cases(lambda: both("postcode", "profession"))),
        ("specialty + department", cases(specialty)),
        ("department alone", cases(lambda: {"department": rng.choice(list(PLACES))})),
        ("has an account (alone)", cases(lambda: {"has_account": "1"})),
        ("name 3 letters + has an account",
         cases(lambda: {"name": pick()["last_name"][:3], "has_account": "1"})),
    ]  # fmt: skip


def percentile(ordered, share):
    return ordered[max(0, int(len(ordered) * share + 0.999) - 1)]


def run_search(n, samples):
    rng = random.Random(7)
    with bench_server(LARGE, prefix="directory_search_") as (server, restart):
        app = create_app({"MONGODB_URI": server.uri_for("bench"), "SECRET_KEY": "bench"})
        with app.app_context(), app.test_request_context():
            Professional.ensure_indexes()
            seconds, kept = seed_professionals(rng, n)
            print(f"{n} professionals written in {seconds:.0f} s; restarting the server")
            restart()
            print(f"\n| search among {n} professionals | cases | p50 ms | p95 ms | max ms "
                  "| results p1 | p95 < 100 ms |")  # fmt: skip
            print("| --- | --: | --: | --: | --: | --: | :-: |")
            for label, criteria in query_cases(rng, samples, kept):
                for cursor_pages in (0, 3):
                    timings, sizes = [], []
                    for values in criteria:
                        wanted = search.Criteria.from_args(values)
                        search.search(policy.SYSTEM, wanted)  # warm-up
                        after = None
                        for _ in range(cursor_pages):  # walk to the page to time
                            _, after = search.search(policy.SYSTEM, wanted, after)
                            if after is None:
                                break
                        if cursor_pages and after is None:
                            continue
                        started = time.perf_counter()
                        found, _ = search.search(policy.SYSTEM, wanted, after)
                        timings.append((time.perf_counter() - started) * 1000)
                        sizes.append(len(found))
                    if not timings:
                        continue
                    timings.sort()
                    p95 = percentile(timings, 0.95)
                    name = label + (f", page {cursor_pages + 1}" if cursor_pages else "")
                    print(f"| {name} | {len(timings)} | {statistics.median(timings):.1f} | "
                          f"{p95:.1f} | {timings[-1]:.1f} | {statistics.median(sizes):.0f} | "
                          f"{'yes' if p95 < 100 else '**NO**'} |")  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, nargs="+", default=[100_000, 400_000])
    parser.add_argument("--search", type=int, default=200_000)
    parser.add_argument("--samples", type=int, default=30)
    # The import's server, as EMBEDDED_CACHE_SIZE sets it in production (README: with the
    # default 1G, 400,000 lines slow down severely: the index keys outgrow the cache).
    parser.add_argument("--cache", default="4G")
    args = parser.parse_args()
    if args.search:
        run_search(args.search, args.samples)
    rows = []
    for lines in [n for n in args.lines if n]:
        with bench_server(("--cache-size", args.cache), "directory_bench_") as (server, _):
            app = create_app({"MONGODB_URI": server.uri_for("bench"), "SECRET_KEY": "bench"})
            with app.app_context(), app.test_request_context():
                Professional.ensure_indexes()
                folder = Path(server.storage_path).parent
                first, newer = folder / "first.txt", folder / "newer.txt"
                make_file(first, lines)
                make_file(newer, lines, changed=0.01, gone=0.01)
                size = first.stat().st_size / 1024**2
                for label, path in (("first import", first), ("same file again", first),
                                    ("newer file", newer)):  # fmt: skip
                    seconds, peak, report = timed_import(path)
                    counts = ", ".join(f"{k} {report[k]}" for k in COUNTS)
                    rows.append((lines, f"{size:.0f} MB", label, seconds, peak, counts))
                    print(f"{lines} lines, {label}: {seconds:.1f} s, peak {peak:.1f} MB "
                          f"({counts}), cache {args.cache}")  # fmt: skip
    if not rows:
        return
    print("\n| lines | file | import | seconds | peak RSS MB | result |")
    print("| --: | --: | --- | --: | --: | --- |")
    for lines, size, label, seconds, peak, counts in rows:
        print(f"| {lines} | {size} | {label} | {seconds:.1f} | {peak:.1f} | {counts} |")


if __name__ == "__main__":
    main()
