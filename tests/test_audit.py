"""The hash-chained audit trail."""

import subprocess
import sys
import threading

import pymongo
import pytest
from helpers import run_at_once

from app import audit, policy
from app.audit import AuditEvent
from app.cli import cli


def _collection(app):
    client = pymongo.MongoClient(app.config["MONGODB_URI"])
    return client, client.get_default_database().audit_events


def test_writes_are_chained(structure, professional):
    events = list(AuditEvent.objects.order_by("seq"))
    assert [e.action for e in events] == ["structure.create", "user.create"]
    assert [e.seq for e in events] == [1, 2]
    assert events[0].prev_hash == audit.GENESIS
    assert events[1].prev_hash == events[0].hash
    assert events[1].actor == "system"
    assert events[1].object_id == str(professional.id)
    assert audit.verify() == (2, None)


def test_verify_command_reports_an_intact_trail(runner, structure, professional):
    result = runner.invoke(cli, ["audit", "verify"])
    assert result.exit_code == 0
    assert "2 events verified" in result.output


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (
            lambda c: c.update_one({"seq": 2}, {"$set": {"details.email": "x@example.org"}}),
            "event #2 (user.create) was altered",
        ),
        (
            lambda c: c.update_one({"seq": 1}, {"$set": {"actor": "someone"}}),
            "event #1 (structure.create) was altered",
        ),
        (lambda c: c.delete_one({"seq": 2}), "event #2 is missing"),
        (
            lambda c: c.update_one({"seq": 3}, {"$set": {"prev_hash": "0" * 64}}),
            "event #3 does not follow event #2",
        ),
    ],
)
def test_verify_finds_the_first_broken_link(app, runner, make_user, structure, tamper, message):
    make_user()
    make_user()
    client, collection = _collection(app)
    tamper(collection)
    client.close()
    result = runner.invoke(cli, ["audit", "verify"])
    assert result.exit_code == 1
    assert message in result.output


def test_a_recomputed_hash_still_breaks_the_next_link(app, runner, make_user, structure):
    make_user()
    make_user()
    event = AuditEvent.objects.get(seq=2)
    event.details = {"email": "forged@example.org"}
    event.hash = audit.compute_hash(event)
    event.save()
    checked, problem = audit.verify()
    assert checked == 2
    assert problem == "event #3 does not follow event #2"


def test_concurrent_writers_keep_one_unbroken_chain(app):
    errors = []

    def write(n):
        try:
            with app.app_context():
                for i in range(10):
                    audit.record(
                        policy.SYSTEM, "test.concurrent", object_type="T", object_id=f"{n}-{i}"
                    )
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert AuditEvent.objects.count() == 40
    assert audit.verify() == (40, None)


def test_fifty_concurrent_writers_never_fail(app):
    """50 clients at once (every dossier read is audited): no request may fail on the trail."""
    errors = run_at_once(lambda name: write_events(app, name, 10), count=50)
    assert errors == []
    assert audit.verify() == (500, None)


WRITER = """
import sys, threading
from app import audit, create_app, policy
app = create_app({"MONGODB_URI": sys.argv[1], "SECRET_KEY": "x", "TESTING": True})
def write(n):
    with app.app_context():
        for i in range(10):
            audit.record(policy.SYSTEM, "test.process", object_id=f"{sys.argv[2]}-{n}-{i}")
threads = [threading.Thread(target=write, args=(n,)) for n in range(10)]
[t.start() for t in threads]
[t.join() for t in threads]
"""


def test_writers_in_several_processes_keep_one_unbroken_chain(app):
    """Gunicorn's workers: three processes of ten threads each append at the same time."""
    uri = app.config["MONGODB_URI"]
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, uri, str(n)], stderr=subprocess.PIPE)
        for n in range(3)
    ]
    outputs = [writer.communicate(timeout=120)[1].decode() for writer in writers]
    assert [w.returncode for w in writers] == [0, 0, 0], outputs
    assert audit.verify() == (300, None)


def write_events(app, name, count):
    with app.app_context():
        for i in range(count):
            audit.record(policy.SYSTEM, "test.concurrent", object_id=f"{name}-{i}")


def test_batched_and_single_writers_keep_one_unbroken_chain(app):
    """Batches of three (one insert each) race with single events: none lost, none forked."""
    errors = []

    def write(n):
        try:
            with app.app_context():
                for i in range(8):
                    if n % 2:
                        with audit.batched():
                            for j in range(3):
                                audit.record(policy.SYSTEM, "test.batch", object_id=f"{n}-{i}-{j}")
                    else:
                        audit.record(policy.SYSTEM, "test.single", object_id=f"{n}-{i}")
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert AuditEvent.objects.count() == 2 * 8 + 2 * 8 * 3
    assert audit.verify() == (64, None)
    # A batch's events stay together, in the order they were recorded.
    batch = [e.object_id for e in AuditEvent.objects(action="test.batch").order_by("seq")]
    assert all(batch[k][:-1] == batch[k + 2][:-1] for k in range(0, len(batch), 3))


def test_a_failed_batch_still_records_what_was_done(app):
    def step():
        with audit.batched():
            audit.record(policy.SYSTEM, "test.done", object_id="1")
            raise RuntimeError("then something failed")

    with pytest.raises(RuntimeError):
        step()
    assert [e.action for e in AuditEvent.objects] == ["test.done"]
    assert audit.verify() == (1, None)


def test_only_platform_admins_list_events(professional, platform_admin):
    events, _ = audit.list_events(platform_admin)
    assert len(events) >= 2
    with pytest.raises(policy.Forbidden):
        audit.list_events(professional)


def test_a_lagging_tip_is_caught_up(app, make_user, structure):
    """A writer that stopped between its insert and moving the tip leaves no fork."""
    make_user()
    client, _ = _collection(app)
    client.get_default_database().audit_tip.update_one({}, {"$set": {"seq": 1}})
    client.close()
    make_user()
    assert audit.tip()[0] == 3
    assert audit.verify() == (3, None)


def test_a_lost_tip_is_rebuilt_from_the_events(app, make_user, structure):
    make_user()
    client, _ = _collection(app)
    client.get_default_database().audit_tip.delete_many({})
    client.close()
    make_user()
    assert audit.tip()[0] == 3
    assert audit.verify() == (3, None)


def test_pages_are_bounded_ranges_of_numbers(platform_admin, db_commands):
    for n in range(120):
        audit.record(
            platform_admin, "test.a" if n % 3 else "test.b", object_type="T", object_id=str(n)
        )
    events, before = audit.list_events(platform_admin, per_page=50)
    assert [e.seq for e in events] == list(range(121, 71, -1))
    events, before = audit.list_events(platform_admin, before=before, per_page=50)
    assert [e.seq for e in events] == list(range(71, 21, -1))
    events, before = audit.list_events(platform_admin, before=before, per_page=50)
    assert [e.seq for e in events] == list(range(21, 0, -1))
    assert before is None

    db_commands.reset()
    events, before = audit.list_events(platform_admin, "test.b", per_page=30)
    assert [e.object_id for e in events] == [str(n) for n in range(117, 27, -3)]
    assert db_commands.names == ["find", "find"]  # the tip, one window
    events, before = audit.list_events(platform_admin, "test.b", before=before, per_page=30)
    assert [e.object_id for e in events] == [str(n) for n in range(27, -1, -3)]
    assert before is None


def test_verify_sees_events_removed_from_the_end(app, runner, make_user, structure):
    make_user()
    client, collection = _collection(app)
    collection.delete_one({"seq": 2})
    client.close()
    result = runner.invoke(cli, ["audit", "verify"])
    assert result.exit_code == 1
    assert "events after #1 are missing (the trail reached #2)" in result.output
