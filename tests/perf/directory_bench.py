"""Directory benchmark: the RPPS import's time and memory at 100,000 and 400,000 lines.

    PYTHONUNBUFFERED=1 .venv/bin/python tests/perf/directory_bench.py [--lines 100000 400000]

Files in the national format are made from the synthetic sample of ../shared/data (each copy
of its 2,362 rows gets new identifiers: the same people, other numbers). For each size: a
first import into an empty directory (everything created), the same file again (nothing to
write), then a newer file (1 % changed, 1 % gone). Printed: seconds, and the process's peak
resident memory after each import (the same process runs every size: flat memory means the
peak does not move with the file) — what grows with the file is 16 bytes per person.

The search half of the benchmark (200,000 professionals, p50/p95) comes with the search.
"""

import argparse
import resource
import time
from pathlib import Path

from benchkit import bench_server

from app import create_app, policy
from app.directory import imports
from app.directory.models import Professional

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


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, nargs="+", default=[100_000, 400_000])
    args = parser.parse_args()
    rows = []
    for lines in args.lines:
        with bench_server(prefix="directory_bench_") as (server, _):
            app = create_app({"MONGODB_URI": f"{server.uri}bench", "SECRET_KEY": "bench"})
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
                    print(f"{lines} lines, {label}: {seconds:.1f} s, peak {peak:.1f} MB ({counts})")
    print("\n| lines | file | import | seconds | peak RSS MB | result |")
    print("| --: | --: | --- | --: | --: | --- |")
    for lines, size, label, seconds, peak, counts in rows:
        print(f"| {lines} | {size} | {label} | {seconds:.1f} | {peak:.1f} | {counts} |")


if __name__ == "__main__":
    main()
