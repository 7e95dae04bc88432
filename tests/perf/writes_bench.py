"""Single writes on one embedded server process, as they pile up: with the driver's retryable
writes (its default, kept for a MONGODB_URI) and without (how Parcours connects to the
embedded server, app.embedded.client_uri). SecantusDB records every retryable write and scans
the records at each write; without them a write costs the same at the 20,000th as at the
first.

    .venv/bin/python tests/perf/writes_bench.py [WRITES]
    .venv/bin/python tests/perf/writes_bench.py batches [DOCUMENTS]

Prints the median insert time of each slice of 2,000 writes, for both clients, each on a
fresh server; with `batches`, the median time of an insert_many of 5,000 documents (as the
benchmarks seed) per 50,000 documents, without retryable writes (default 300,000): flat, so
a seeding no longer needs to restart the server every so many writes."""

import statistics
import sys
import time

import pymongo

sys.path.insert(0, "tests/perf")
from benchkit import bench_server  # noqa: E402


def run(retry, writes):
    with bench_server() as (server, _):
        uri = server.uri_for("bench").replace("retryWrites=false", f"retryWrites={retry}")
        client = pymongo.MongoClient(uri)
        collection = client.get_default_database()["notes"]
        slices, times = [], []
        for n in range(writes):
            started = time.perf_counter()
            collection.insert_one({"n": n, "text": "x" * 200})
            times.append(time.perf_counter() - started)
            if len(times) == 2000:
                slices.append(statistics.median(times) * 1000)
                times = []
        client.close()
        return slices


def batches(documents, size=5000):
    with bench_server() as (server, _):
        client = pymongo.MongoClient(server.uri_for("bench"))
        collection = client.get_default_database()["people"]
        collection.create_index([("name", 1)])
        times = []
        for batch in range(documents // size):
            docs = [{"name": f"n{batch}-{n}", "text": "x" * 300} for n in range(size)]
            started = time.perf_counter()
            collection.insert_many(docs, ordered=False)
            times.append(time.perf_counter() - started)
            if (batch + 1) * size % 50_000 == 0:
                median = statistics.median(times) * 1000
                print(f"{(batch + 1) * size:>9} documents | {median:6.0f} ms per insert_many")
                times = []
        client.close()


def main():
    if sys.argv[1:2] == ["batches"]:
        batches(int(sys.argv[2]) if len(sys.argv) > 2 else 300_000)
        return
    writes = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    results = {retry: run(retry, writes) for retry in ("true", "false")}
    print(f"{'writes':>14} | {'retryWrites=true ms':>20} | {'retryWrites=false ms':>20}")
    for index, (on, off) in enumerate(zip(results["true"], results["false"], strict=True)):
        span = f"{index * 2000 + 1}-{(index + 1) * 2000}"
        print(f"{span:>14} | {on:20.2f} | {off:20.2f}")


if __name__ == "__main__":
    main()
