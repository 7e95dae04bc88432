""" "Suivi" pages through ranges of due dates that the task tallies point to
(app/pathways/tallies.py): every page in due order, exact totals and counters, and a list that
stays whole when the tallies are wrong, until the recount puts them right."""

from datetime import timedelta

import pytest
from test_inbox import api_ids, patient, start, to_visit
from test_pathway_instances import EVALUATION, world  # noqa: F401

from app.clock import travel, utcnow
from app.pathways import tallies
from app.pathways.models import Task
from app.pathways.tallies import TaskTally

# Pathways started at these days from now: each first step is due 2 days later, so the list
# spans many weeks, with overdue tasks and tasks ahead.
STARTS = (-75, -40, -39, -20, -9, -3, -1, 0, 0, 4, 12, 30)


@pytest.fixture
def spread(api_as, coordinator, structure, world):  # noqa: F811
    """The DAC's open tasks of pathways started on STARTS days, plus the world's GP visit
    (no due date); returns them in the list's order (due date, then creation)."""
    coord = api_as(coordinator)
    for number, days in enumerate(STARTS):
        with travel(timedelta(days=days)):
            start(coord, patient(coordinator, structure, f"Patient{number}"))
    to_visit(coord, world[0])
    return expected_order(structure)


def expected_order(structure):
    tasks = Task.objects(structure=structure.id, status="open")
    return [str(t.id) for t in sorted(tasks, key=lambda t: (t.due_sort, t.id))]


def pages(api, per_page, query="", scope="followed"):
    """Every page of the list, walked until the API says there is no more; and the totals."""
    found, totals, number = [], set(), 1
    while True:
        page = api.get(f"/tasks?scope={scope}&per_page={per_page}&page={number}{query}")
        found += api_ids(page)
        totals.add(page.json["total"])
        if number * per_page >= page.json["total"]:
            return found, totals
        number += 1


@pytest.mark.parametrize("per_page", [1, 3, 5, 50])
def test_every_page_follows_the_due_order_and_the_total_is_exact(
    api_as, coordinator, spread, per_page
):
    found, totals = pages(api_as(coordinator), per_page)
    assert (found, totals) == (spread, {len(spread)})


def test_the_overdue_filter_counts_the_weeks_before_and_reads_this_one(
    api_as, login_as, coordinator, spread
):
    late = [t for t in spread if Task.objects.get(id=t).due_sort < utcnow()]
    assert 0 < len(late) < len(spread)
    found, totals = pages(api_as(coordinator), 2, "&overdue=1")
    assert (found, totals) == (late, {len(late)})
    counters = api_as(coordinator).get("/tasks?scope=followed").json["counters"]
    assert counters["followed_overdue"] == len(late)


def test_a_completed_task_leaves_the_count_and_the_pages(api_as, coordinator, spread):
    api = api_as(coordinator)
    first = Task.objects.get(id=spread[0])
    done = api.post(f"/tasks/{first.id}/complete", json={"data": {**EVALUATION, "gir": 3}})
    assert done.status_code == 200, done.json
    found, totals = pages(api, 4)
    rest = [t for t in spread if t != spread[0]]
    # Completing the evaluation made a visit (no due date) ready: it joins the end.
    assert found[: len(rest)] == rest
    assert totals == {len(rest) + 1}


def test_withdrawn_consent_takes_the_dossiers_tasks_out_of_the_count(
    api_as,
    coordinator,
    spread,
    world,  # noqa: F811
):
    dossier = world[0]
    withdrawn = api_as(coordinator).post(
        f"/dossiers/{dossier.id}/consent/withdraw",
        json={"date": "2026-03-01", "reason": "Le patient refuse."},
    )
    assert withdrawn.status_code == 200, withdrawn.json
    left = [t for t in spread if Task.objects.get(id=t).dossier != dossier.id]
    assert pages(api_as(coordinator), 5) == (left, {len(left)})


def test_wrong_tallies_lose_no_task_and_the_recount_puts_them_right(
    api_as, coordinator, structure, spread
):
    api = api_as(coordinator)
    # Weeks the tallies forgot (one of them the last: tasks without a due date), and a week
    # they count twice.
    weeks = list(TaskTally.objects(owner=f"s:{structure.id}").order_by("week"))
    weeks[1].delete()
    weeks[-1].delete()
    weeks[-2].update(inc__open=weeks[-2].open)
    found, _ = pages(api, 50)
    assert sorted(found) == sorted(spread)
    assert tallies.recount() == 3
    assert pages(api, 3) == (spread, {len(spread)})
    assert tallies.recount() == 0


def test_without_any_tally_the_whole_list_is_read(api_as, coordinator, spread):
    TaskTally.objects.delete()
    assert pages(api_as(coordinator), 4) == (spread, {len(spread)})


def test_the_worker_recounts_once_a_day(app, spread):
    TaskTally.objects.delete()
    assert tallies.recount_if_due() > 0
    assert tallies.recount_if_due() is None  # done today
    with travel(timedelta(days=1, minutes=1)):
        assert tallies.recount_if_due() == 0


def test_my_tasks_page_the_same_way_and_every_move_keeps_the_tallies_exact(
    api_as, coordinator, structure, make_user, spread
):
    """The evaluations are the coordinator's: "Mes tâches" pages through the assignee's
    tallies. Claims, hand-overs, releases and completions keep every tally exact: the
    recount finds nothing to correct."""
    api = api_as(coordinator)
    mine = [t for t in spread if Task.objects.get(id=t).assignee == coordinator.id]
    assert len(mine) == len(STARTS)
    assert pages(api, 4, scope="mine") == (mine, {len(mine)})
    colleague = make_user(structure, roles=["coordinator"], profession="coordinateur")
    given = api.post(f"/tasks/{mine[0]}/assign", json={"user": str(colleague.id)})
    assert given.status_code == 200, given.json
    assert pages(api, 4, scope="mine") == (mine[1:], {len(mine) - 1})
    assert pages(api_as(colleague), 4, scope="mine") == ([mine[0]], {1})
    released = api_as(colleague).post(f"/tasks/{mine[0]}/release")
    assert released.status_code == 200, released.json
    done = api.post(f"/tasks/{mine[1]}/complete", json={"data": {**EVALUATION, "gir": 3}})
    assert done.status_code == 200, done.json
    assert tallies.recount() == 0
