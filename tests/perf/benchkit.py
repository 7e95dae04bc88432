"""What the benchmarks share: an embedded server of their own in a temporary folder, that
they can restart (the seedings of millions of documents do: see each benchmark)."""

import contextlib
import tempfile
import time
from pathlib import Path

from pymongo.errors import PyMongoError

from app.db import database
from app.embedded import EmbeddedServer

# Keep the whole oplog: its pruning walks it while the benchmark writes millions of documents.
NO_PRUNING = ("--oplog-max-entries", "100000000", "--oplog-retention-seconds", "864000")
# For millions of documents: that, and an 8 GB cache (with the default 1 GB, the writer ends up
# evicting pages inside the oplog's walk and the seeding stalls).
LARGE = (*NO_PRUNING, "--cache-size", "8G")


@contextlib.contextmanager
def bench_server(options=(), prefix="bench_"):
    """(server, restart) for the `with` block: `restart()` restarts the server and waits
    until the client (which reconnects by itself) answers again. Stopped at the end."""
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        server = EmbeddedServer.start(Path(folder) / "db", Path(folder) / "log", options=options)

        def restart():
            server.restart(timeout=120)
            for _ in range(50):
                try:
                    database().command("ping")
                    return
                except PyMongoError:
                    time.sleep(0.2)

        try:
            yield server, restart
        finally:
            server.stop()


# --- query plans -------------------------------------------------------------------------------


def shape(value):
    """A query with its values replaced by "?": queries of one shape share a plan."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):  # every branch of an $or, one value of an $in
        return [shape(v) for v in (value if value and isinstance(value[0], dict) else value[:1])]
    return "?"


def stages(node):
    found = []
    while node:
        found.append(node["stage"] + (f"({node['indexName']})" if "indexName" in node else ""))
        node = node.get("inputStage") or (node.get("inputStages") or [None])[0]
    return " < ".join(found)


def explain(command):
    keys = ("find", "filter", "sort", "projection", "limit", "skip", "aggregate", "pipeline")
    keys += ("distinct", "key", "query")
    body = {k: command[k] for k in keys if k in command}
    body |= {"cursor": {}} if "aggregate" in body else {}
    try:
        found = database().command("explain", body, verbosity="executionStats")
    except PyMongoError as error:
        return f"(no plan: {str(error)[:80]})", "?", "?", "?"
    stats = found.get("executionStats", {})
    plan = stages(found.get("queryPlanner", {}).get("winningPlan"))
    counts = [stats.get(k, "?") for k in ("totalKeysExamined", "totalDocsExamined", "nReturned")]
    return plan or "?", *counts


def print_plans(commands):
    """For each query shape among `commands` (as the command listener saw them), the plan of
    its widest instance: stages, keys and documents examined, a COLLSCAN marked."""
    shapes = {}
    for command in commands:
        collection = command.get("find") or command.get("aggregate") or command.get("distinct")
        what = command.get("filter", command.get("pipeline", command.get("query")))
        key = (collection, str(shape(what)), str(command.get("sort")))
        shapes.setdefault(key, []).append(explain(command))
    for (collection, what, sort), plans in shapes.items():
        plan, keys, docs, returned = max(plans, key=lambda p: p[2] if isinstance(p[2], int) else 0)
        scan = "   <-- COLLSCAN" if "COLLSCAN" in plan else ""
        print(f"  {collection} {what} sort {sort} x{len(plans)}")
        print(f"      {plan}; keys {keys}, docs {docs}, returned {returned}{scan}")
