"""Each query pattern Parcours avoids on the embedded server, against the workaround it uses
instead (README, "Queries on the embedded database"), on a fresh server at each size:

- findAndModify (find_one_and_update, MongoEngine's modify) on an `_id` vs `app.db.increment`
  (read, then compare-and-set `update_one`);
- `$in` on the first field of a compound index (statuses of a queue) vs one equality query per
  value (the webhook and notification queues, the e-mail purge);
- `$or` of two equality branches on one index vs one query per branch (the inbox);
- a queue round that skips what it took with `$nin` vs the (due, _id) cursor of `app.db.after`;
- an open-ended `sort().limit(1)` ("the last one") vs a bounded range on the same index.

    .venv/bin/python tests/perf/workarounds_bench.py [--sizes 1000 20000] [--runs 30]

Prints the median milliseconds of each side and their ratio; asserts nothing."""

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

import pymongo

sys.path.insert(0, "tests/perf")
from benchkit import bench_server  # noqa: E402

from app.db import after, increment  # noqa: E402

STATUSES = ("sent",) * 8 + ("pending", "failed")  # a queue is mostly done
START = datetime(2026, 1, 1, tzinfo=UTC)


def timed(call, runs):
    call()  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def seed(db, size, rng):
    """`size` counters, `size` queue documents (status, created_at, next_attempt_at) and
    `size` tasks (structure, status, due) in 20 structures, with the indexes Parcours has."""
    db.counters.insert_many([{"_id": n, "value": 0} for n in range(size)])
    db.queue.insert_many(
        [
            {
                "status": rng.choice(STATUSES),
                "created_at": START + timedelta(seconds=n),
                "next_attempt_at": START + timedelta(seconds=n),
                "body": "x" * 300,
            }
            for n in range(size)
        ]
    )
    db.queue.create_index([("status", 1), ("created_at", 1)])
    db.queue.create_index([("status", 1), ("next_attempt_at", 1), ("_id", 1)])
    db.tasks.insert_many(
        [
            {
                "structure": f"s{n % 20}",
                "status": "open" if n % 4 == 0 else "done",
                "due": START + timedelta(hours=n),
                "title": "x" * 200,
            }
            for n in range(size)
        ]
    )
    db.tasks.create_index([("structure", 1), ("status", 1), ("due", 1)])
    db.audit.insert_many([{"seq": n, "what": "x" * 200} for n in range(size)])
    db.audit.create_index([("seq", 1)])


def patterns(db, size, rng):
    """(name, avoided pattern, workaround): two calls that get the same answer."""
    middle = START + timedelta(seconds=size // 2)
    window = {"$gte": middle, "$lt": middle + timedelta(seconds=200)}  # ~40 of each status

    def find_and_modify():
        db.counters.find_one_and_update(
            {"_id": rng.randrange(size)},
            {"$inc": {"value": 1}},
            return_document=pymongo.ReturnDocument.AFTER,
        )

    def compare_and_set():
        increment(db.counters, rng.randrange(size), "value")

    def in_statuses():
        return list(
            db.queue.find(
                {"status": {"$in": ["pending", "failed"]}, "created_at": window}, {"_id": 1}
            )
        )

    def per_status():
        return [
            row
            for status in ("pending", "failed")
            for row in db.queue.find({"status": status, "created_at": window}, {"_id": 1})
        ]

    def or_branches():
        return list(
            db.tasks.find(
                {
                    "$or": [
                        {"structure": "s1", "status": "open"},
                        {"structure": "s5", "status": "open"},
                    ]
                },
                {"_id": 1},
            )
        )

    def per_branch():
        return [
            row
            for structure in ("s1", "s5")
            for row in db.tasks.find({"structure": structure, "status": "open"}, {"_id": 1})
        ]

    now = START + timedelta(seconds=size)  # everything pending is due
    queue = {"status": "pending", "next_attempt_at": {"$lte": now}}
    sort = [("next_attempt_at", 1), ("_id", 1)]
    takes = min(100, db.queue.count_documents(queue))  # a round that takes them one at a time

    def nin_round():
        taken = []
        for _ in range(takes):
            found = db.queue.find_one(
                {**queue, "_id": {"$nin": taken}}, {"_id": 1, "next_attempt_at": 1}, sort=sort
            )
            taken.append(found["_id"])

    def cursor_round():
        last = None
        for _ in range(takes):
            rows = [
                row
                for query in after([queue], "next_attempt_at", last)
                for row in db.queue.find(
                    query, {"_id": 1, "next_attempt_at": 1}, sort=sort, limit=1
                )
            ]
            last = min(rows, key=lambda row: (row["next_attempt_at"], row["_id"]))

    def last_by_sort():
        return db.audit.find_one({}, sort=[("seq", -1)])

    def last_by_range():  # the trail keeps its tip in a pointer document; then a bounded read
        return db.audit.find_one({"seq": {"$gte": size - 1, "$lte": size - 1}})

    return [
        ("findAndModify on _id vs read + CAS update_one", find_and_modify, compare_and_set, 1),
        ("$in [pending, failed] + range vs 1 query per status", in_statuses, per_status, 1),
        ("$or of 2 (structure, status) vs 1 query per branch", or_branches, per_branch, 1),
        (f"queue round of {takes} takes: $nin vs (due, _id) cursor", nin_round, cursor_round, 0.2),
        ("last by sort(seq -1).limit(1) vs bounded range", last_by_sort, last_by_range, 1),
    ]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 20_000])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    rng = random.Random(19)
    rows = []
    for size in args.sizes:
        with bench_server() as (server, _):
            client = pymongo.MongoClient(server.uri_for("bench"))
            db = client.get_default_database()
            started = time.perf_counter()
            seed(db, size, rng)
            print(f"  {size}: seeded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
            for name, avoided, workaround, share in patterns(db, size, rng):
                runs = max(3, int(args.runs * share))
                rows.append((size, name, timed(avoided, runs), timed(workaround, runs)))
                print(f"  {size} {name}: {rows[-1][2]:.2f} / {rows[-1][3]:.2f} ms", file=sys.stderr)
            client.close()
    header = (
        f"{'docs':>7} | {'pattern vs workaround':<55} | {'pattern ms':>10} | {'workaround ms':>13}"
    )
    print(f"{header} | ratio")
    for size, name, slow, fast in rows:
        print(f"{size:>7} | {name:<55} | {slow:10.2f} | {fast:13.2f} | {slow / fast:5.1f}x")


if __name__ == "__main__":
    main()
