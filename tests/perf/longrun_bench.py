"""Long-running pathway benchmark (issue 9): does a step cost the same at pass 1,000 as at 1?

Run: .venv/bin/python tests/perf/longrun_bench.py [--passes 1000]

The loop pathway of engine_bench.py (merge gateway -> user task -> event -> gateway, 4 elements
per pass), side by side:
- stock: plain SpiffWorkflow 3.2 with its own serializer, one JSON round trip per step
  (deserialize -> complete the user task -> serialize), as a platform on the same engine does;
- ours, engine: app.engine (restore -> complete -> dump, the finished past dropped on dump);
- ours, API: the full completion through the test client (POST /api/v1/tasks/{id}/complete)
  on one throw-away embedded SecantusDB server.
Median latency at passes 1-10, 241-250 (the stock engine stops at 251), 491-500 and 991-1000,
and the state's size at those points.
Prints numbers; asserts nothing.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from engine_bench import DATA, LOOP, seed
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from app import create_app
from app.dossiers.services import create_dossier
from app.embedded import EmbeddedServer
from app.engine.runtime import Runtime
from app.pathways.models import PathwayInstance, Task

WINDOWS = ((1, 10), (241, 250), (491, 500), (991, 1000))


def windows(passes):
    return [(a, b) for a, b in WINDOWS if b <= passes]


def stock(passes):
    """(latency per pass, size per pass) of plain SpiffWorkflow; stops with the engine."""
    runtime = Runtime.for_version(
        SimpleNamespace(pathway="bench_boucle", version=1, bpmn=LOOP, trusted=0)
    )
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    workflow = BpmnWorkflow(runtime.spec, runtime.subprocess_specs)
    workflow.do_engine_steps()
    state = serializer.serialize_json(workflow)
    timings, sizes = [], []
    for _ in range(passes):
        started = time.perf_counter()
        workflow = serializer.deserialize_json(state)
        ready = workflow.get_tasks(state=TaskState.READY, manual=True)
        if not ready:
            break
        ready[0].data["bench_revue"] = dict(DATA)
        ready[0].run()
        workflow.do_engine_steps()
        state = serializer.serialize_json(workflow)
        timings.append(time.perf_counter() - started)
        sizes.append(len(state))
    return timings, sizes


def ours_engine(passes):
    runtime = Runtime.for_version(
        SimpleNamespace(pathway="bench_boucle", version=1, bpmn=LOOP, trusted=0)
    )
    state = runtime.start({}).dump()
    timings, sizes = [], []
    for _ in range(passes):
        started = time.perf_counter()
        instance = runtime.restore(state)
        [task] = instance.ready_user_tasks()
        instance.complete(task["id"], "bench_revue", DATA)
        state = instance.dump()
        timings.append(time.perf_counter() - started)
        sizes.append(len(state))
    return timings, sizes


def ours_api(passes, restart_every=0):
    """`restart_every` N: restart the database server every N passes, to tell our cost from
    SecantusDB's own slowdown with the writes of its process (see app/embedded.py)."""
    timings, sizes = [], []
    with tempfile.TemporaryDirectory() as folder:
        server = EmbeddedServer.start(Path(folder) / "db", Path(folder) / "log")
        try:
            app = create_app({"MONGODB_URI": server.uri_for("bench"), "SECRET_KEY": "bench"})
            with app.app_context():
                structure, coordinator, token = seed()
                dossier = create_dossier(
                    coordinator,
                    {
                        "identity": {"birth_name": "Banc", "first_names": "Essai",
                                     "birth_date": "1940-01-01", "sex": "F"},
                        "consent": {"mode": "oral", "date": "2026-01-05"},
                        "structure": structure.key,
                        "confirm_new": True,
                    },
                )  # fmt: skip
                client, headers = app.test_client(), {"Authorization": f"Bearer {token}"}
                started = client.post(
                    f"/api/v1/dossiers/{dossier.id}/pathways",
                    json={"pathway": "bench_boucle"},
                    headers=headers,
                )
                instance_id = started.json["instance"]
                for number in range(1, passes + 1):
                    if restart_every and number % restart_every == 0:
                        server.restart()
                    task = Task.objects.get(instance=instance_id, status="open")
                    begun = time.perf_counter()
                    done = client.post(
                        f"/api/v1/tasks/{task.id}/complete", json={"data": DATA}, headers=headers
                    )
                    timings.append(time.perf_counter() - begun)
                    if done.status_code != 200:
                        print(f"API completion #{number} failed: {done.status_code} {done.json}")
                        break
                    sizes.append(len(PathwayInstance.objects.get(id=instance_id).state))
        finally:
            server.stop()
    return timings, sizes


def report(name, timings, sizes, passes):
    cells = []
    for first, last in windows(passes):
        if len(timings) >= last:
            median = statistics.median(timings[first - 1 : last]) * 1000
            cells.append(f"{first}-{last}: {median:7.2f} ms {sizes[last - 1] / 1024:7.1f} KiB")
        else:
            cells.append(f"{first}-{last}: stopped at pass {len(timings) + 1} (no ready task)")
    print(f"{name:22} " + " | ".join(cells))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--passes", type=int, default=1000)
    parser.add_argument("--no-api", action="store_true", help="engine figures only")
    parser.add_argument("--restart-every", type=int, default=250, help="0: never")
    args = parser.parse_args()
    print(f"Loop pathway (4 elements per pass), {args.passes} passes: median latency, state size")
    report("stock engine", *stock(args.passes), args.passes)
    report("ours, engine", *ours_engine(args.passes), args.passes)
    if not args.no_api:
        report("ours, API", *ours_api(args.passes), args.passes)
        if args.restart_every:
            name = f"API, db restart/{args.restart_every}"
            report(name, *ours_api(args.passes, args.restart_every), args.passes)


if __name__ == "__main__":
    main()
