"""The work inbox (/taches and GET /api/v1/tasks): "Mes tâches", "À prendre" and, for the
coordinators of a dossier's structure, "Suivi"; filters and sort; the navigation's counters;
taking several tasks at once. Everything is seen through the pages and the API."""

import re
from datetime import timedelta
from html import unescape
from types import SimpleNamespace

import pytest
from bson import ObjectId
from dossier_helpers import new_dossier
from helpers import html, snapshot
from test_pathway_instances import EVALUATION, VISIT, world  # noqa: F401
from test_pathways import BPMN

from app import policy
from app.audit import AuditEvent
from app.clock import PARIS, travel, utcnow
from app.pathways import instances
from app.pathways.models import PathwayStep, Task
from app.pathways.services import deploy

# The same process under another key, to filter by pathway.
OTHER_BPMN = BPMN.replace(b'id="suivi_gir" name="Suivi GIR"', b'id="suivi_bis" name="Suivi bis"')
TAKEN = "est déjà prise"
NOT_FOUND = "Cette tâche n'existe pas ou vous n'y avez pas accès."


def patient(coordinator, structure, name):
    """A new dossier of `structure` whose patient is "<NAME> Paul"."""
    identity = {"birth_name": name, "used_name": name, "first_names": "Paul"}
    return new_dossier(coordinator, structure, identity)


def start(coord_api, dossier, key="suivi_gir"):
    """Start a pathway: its first step (the evaluation, due in 2 days) goes to the coordinator."""
    started = coord_api.post(f"/dossiers/{dossier.id}/pathways", json={"pathway": key})
    assert started.status_code == 201, started.json
    return Task.objects.get(instance=started.json["instance"])


def to_visit(coord_api, dossier):
    """Start and do the evaluation: the visit (no due date, lane medecin_traitant) is next."""
    evaluation = start(coord_api, dossier)
    done = coord_api.post(
        f"/tasks/{evaluation.id}/complete", json={"data": {**EVALUATION, "gir": 3}}
    )
    assert done.status_code == 200, done.json
    return Task.objects.get(instance=evaluation.instance, status="open")


def cards(response):
    """The page's list of task cards (without the filters' lists of names)."""
    assert response.status_code in (200, 400), html(response)
    return html(response).split('id="liste-taches"', 1)[1].split("</ul>", 1)[0]


def listed(response):
    """The ids of the page's task cards, in their order."""
    return re.findall(r'href="/taches/([0-9a-f]{24})"', cards(response))


def text(response):
    return unescape(html(response))


def api_ids(response):
    assert response.status_code == 200, response.json
    return [item["id"] for item in response.json["items"]]


def ids(*tasks):
    return [str(task.id) for task in tasks]


def day(days):
    """The French calendar day `days` from now, as the due_before filter takes it."""
    return (utcnow() + timedelta(days=days)).astimezone(PARIS).date().isoformat()


def nav(response, link="nav-taches"):
    """The text of a navigation link, numbers included ("Mes tâches 2 +1"), or None."""
    found = re.search(rf'id="{link}">(.*?)</a>', html(response), re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split()) if found else None


@pytest.fixture
def offered(api_as, coordinator, structure, make_user, world):  # noqa: F811
    """Two visits (dossiers without a GP) offered to the DAC's two doctors."""
    doctors = [make_user(structure, profession="10", name=f"Dr Équipe {n}") for n in (1, 2)]
    coord = api_as(coordinator)
    visits = [to_visit(coord, patient(coordinator, structure, name)) for name in ("Blanc", "Noir")]
    return SimpleNamespace(doctors=doctors, visits=visits, dossier=world[0], gp=world[1])


@pytest.fixture
def desk(api_as, coordinator, structure, world):  # noqa: F811
    """The DAC's open tasks, in creation order: `late` (the coordinator's, due in 2 days),
    `given` (the GP's visit on the world's dossier, no due date); then, 3 days later, `soon`
    (the coordinator's, pathway suivi_bis, due in 2 days). `late` is now overdue."""
    dossier, gp, nurse = world
    deploy(policy.SYSTEM, OTHER_BPMN)
    coord = api_as(coordinator)
    late = start(coord, patient(coordinator, structure, "Durand"))
    given = to_visit(coord, dossier)
    with travel(timedelta(days=3)):
        soon = start(coord, patient(coordinator, structure, "Roux"), "suivi_bis")
        yield SimpleNamespace(late=late, given=given, soon=soon, dossier=dossier, gp=gp)


@pytest.fixture
def refused(api_as, coordinator, structure, make_user, desk):
    """A coordinator of the DAC whom the world's patient refused."""
    refused = make_user(structure, roles=["coordinator"], profession="coordinateur")
    excluded = api_as(coordinator).post(
        f"/dossiers/{desk.dossier.id}/exclusions", json={"user": str(refused.id)}
    )
    assert excluded.status_code == 201, excluded.json
    return refused


# --- 1. Mes tâches, À prendre ------------------------------------------------------------------


def test_each_person_lists_their_tasks_and_those_offered_to_them(
    login_as, api_as, coordinator, professional, structure, offered, make_user, other_structure
):
    dossier, gp = offered.dossier, offered.gp
    visit = to_visit(api_as(coordinator), dossier)  # goes to the GP of the circle
    evaluation = start(api_as(coordinator), patient(coordinator, structure, "Durand"))
    doctor = login_as(offered.doctors[0])
    assert listed(login_as(gp).get("/taches")) == ids(visit)
    assert listed(login_as(coordinator).get("/taches")) == ids(evaluation)
    assert listed(doctor.get("/taches")) == []
    assert listed(doctor.get("/taches?scope=available")) == ids(*offered.visits)
    assert api_ids(api_as(offered.doctors[0]).get("/tasks?scope=available")) == ids(*offered.visits)
    assert "Rien à prendre" in html(login_as(gp).get("/taches?scope=available"))
    # Not offered to a doctor of another structure, nor to the DAC's nurse.
    for user in (make_user(other_structure, profession="10"), professional):
        page = login_as(user).get("/taches?scope=available")
        assert (listed(page), nav(page)) == ([], "Mes tâches")
        assert api_as(user).get("/tasks?scope=available").json["total"] == 0
    # Done: it leaves the lists.
    assert api_as(gp).post(f"/tasks/{visit.id}/complete", json={"data": VISIT}).status_code == 200
    page = login_as(gp).get("/taches")
    assert (listed(page), "Aucune tâche ne vous attend." in html(page)) == ([], True)
    first = offered.visits[0]
    done = api_as(offered.doctors[1]).post(f"/tasks/{first.id}/complete", json={"data": VISIT})
    assert done.status_code == 200
    assert listed(doctor.get("/taches?scope=available")) == ids(offered.visits[1])


# --- 2. Suivi ----------------------------------------------------------------------------------


def test_a_coordinator_follows_every_open_task_of_the_dossiers_overdue_first(
    login_as, api_as, coordinator, desk
):
    coord = login_as(coordinator)
    page = coord.get("/taches?scope=followed")
    assert listed(page) == ids(desk.late, desk.soon, desk.given)
    shown = cards(page)
    assert "Confiée à Dr Traitant" in shown  # someone else's task
    assert shown.count("En retard depuis le") == 1
    assert shown.index("DURAND Paul") < shown.index("ROUX Paul") < shown.index("LEFÈBVRE")
    api = api_as(coordinator)
    followed = api.get("/tasks?scope=followed")
    assert api_ids(followed) == ids(desk.late, desk.soon, desk.given)
    assert followed.json["items"][2]["assignee_name"] == "Dr Traitant"
    by_creation = [desk.late, desk.given, desk.soon]
    for sort, tasks in {"oldest": by_creation, "recent": by_creation[::-1]}.items():
        assert api_ids(api.get(f"/tasks?scope=followed&sort={sort}")) == ids(*tasks)
        assert listed(coord.get(f"/taches?scope=followed&sort={sort}")) == ids(*tasks)
    # "Mes tâches" keeps to the coordinator's own, also overdue first.
    assert listed(coord.get("/taches")) == ids(desk.late, desk.soon)


def test_suivi_is_only_for_the_coordinators_the_patient_did_not_refuse(
    login_as, api_as, professional, other_structure, make_user, desk, refused
):
    # A professional of the DAC who is not a coordinator: no tab, no link, nothing listed.
    page = login_as(professional).get("/taches?scope=followed")
    assert (page.status_code, nav(page, "nav-suivi")) == (200, None)
    assert "scope=followed" not in html(page)
    assert 'aria-current="page" href="/taches?scope=mine">Mes tâches' in html(page)
    empty = api_as(professional).get("/tasks?scope=followed")
    assert (empty.json["items"], empty.json["total"]) == ([], 0)
    # A coordinator of another structure: their Suivi is empty.
    elsewhere = make_user(other_structure, roles=["coordinator"], profession="coordinateur")
    page = login_as(elsewhere).get("/taches?scope=followed")
    assert "Aucune tâche ouverte dans les dossiers que vous coordonnez." in html(page)
    assert listed(page) == []
    assert api_ids(api_as(elsewhere).get("/tasks?scope=followed")) == []
    # A coordinator of the DAC whom the world's patient refused: not that dossier's tasks.
    page = login_as(refused).get("/taches?scope=followed")
    assert listed(page) == ids(desk.late, desk.soon)
    assert "LEFÈBVRE" not in cards(page)
    assert "Dr Traitant" not in cards(page)
    assert api_ids(api_as(refused).get("/tasks?scope=followed")) == ids(desk.late, desk.soon)


def test_suivi_does_not_offer_the_coordinators_own_tasks(login_as, coordinator, desk):
    shown = cards(login_as(coordinator).get("/taches?scope=followed"))
    assert "À prendre" not in shown  # all three are someone's, two of them the coordinator's


def test_the_count_of_a_refused_coordinator_leaves_out_the_refused_dossier(
    login_as, api_as, refused
):
    assert api_as(refused).get("/tasks?scope=followed").json["total"] == 2
    assert "2 tâches" in html(login_as(refused).get("/taches?scope=followed"))


def test_the_filters_do_not_name_the_patient_who_refused_the_coordinator(login_as, refused):
    page = html(login_as(refused).get("/taches?scope=followed"))
    assert "ROUX Paul</option>" in page
    assert "LEFÈBVRE" not in page


# --- 3. Filters and sort -----------------------------------------------------------------------


def test_filters_narrow_the_list(login_as, api_as, coordinator, desk):
    api, coord = api_as(coordinator), login_as(coordinator)
    wanted = {
        f"dossier={desk.dossier.id}": [desk.given],
        "pathway=suivi_bis": [desk.soon],
        "pathway=suivi_gir": [desk.late, desk.given],
        "pathway=inconnu": [],
        "overdue=1": [desk.late],
        f"due_before={day(0)}": [desk.late],
        f"due_before={day(1)}": [desk.late],
        f"due_before={day(2)}": [desk.late, desk.soon],
        "overdue=1&pathway=suivi_bis": [],
    }
    for query, tasks in wanted.items():
        assert api_ids(api.get(f"/tasks?scope=followed&{query}")) == ids(*tasks), query
        assert listed(coord.get(f"/taches?scope=followed&{query}")) == ids(*tasks), query
    shown = api.get("/tasks?scope=followed&pathway=suivi_bis").json["items"]
    assert [(t["pathway"], t["pathway_name"]) for t in shown] == [("suivi_bis", "Suivi bis")]
    assert "Suivi bis" in cards(coord.get("/taches?scope=followed&pathway=suivi_bis"))
    # An unknown list: refused by the API, "Mes tâches" on the page.
    refused = api.get("/tasks?scope=tout")
    assert (refused.status_code, list(refused.json["error"]["fields"])) == (422, ["/scope"])
    assert listed(coord.get("/taches?scope=tout")) == ids(desk.late, desk.soon)


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("due_before=demain", "/due_before", "Date attendue au format AAAA-MM-JJ."),
        ("sort=hasard", "/sort", "Tri inconnu : choisissez parmi due, recent, oldest."),
        ("dossier=12345", "/dossier", "Identifiant de dossier invalide."),
    ],
)
def test_a_filter_not_understood_is_refused_in_french(
    login_as, api_as, coordinator, desk, query, field, message
):
    page = login_as(coordinator).get(f"/taches?scope=followed&{query}")
    assert page.status_code == 400
    assert message in html(page)
    assert len(listed(page)) == 3  # the list without filters, below the message
    refused = api_as(coordinator).get(f"/tasks?scope=followed&{query}")
    assert refused.status_code == 422
    assert refused.json["error"]["fields"] == {field: message}


# --- 4. The navigation's counters --------------------------------------------------------------


def test_the_navigation_counts_mine_to_take_and_late_followed(login_as, coordinator, offered, desk):
    coord = login_as(coordinator).get("/")
    assert nav(coord) == "Mes tâches 2"  # late and soon; nothing to take
    assert nav(coord, "nav-suivi") == "Suivi 1"  # late
    tabs = html(login_as(coordinator).get("/taches"))
    assert 'title="en retard">1</span>' in tabs
    assert nav(login_as(desk.gp).get("/")) == "Mes tâches 1"
    assert nav(login_as(offered.doctors[0]).get("/")) == "Mes tâches +2"


def test_the_counters_move_with_ones_own_claim_and_with_a_new_task(
    login_as, api_as, coordinator, offered
):
    doctor = login_as(offered.doctors[0])
    assert nav(doctor.get("/")) == "Mes tâches +2"  # counted, and kept for a minute
    taken = doctor.post("/taches/prendre", {"task": str(offered.visits[0].id)})
    assert taken.status_code == 302
    assert nav(doctor.get("/")) == "Mes tâches 1 +1"
    # A new task for the GP: the notice makes their next page count again.
    gp_web = login_as(offered.gp)
    assert nav(gp_web.get("/")) == "Mes tâches"
    to_visit(api_as(coordinator), offered.dossier)
    assert nav(gp_web.get("/")) == "Mes tâches 1"
    # Counted from the API too.
    counters = api_as(offered.doctors[0]).get("/tasks").json["counters"]
    assert counters == {"mine": 1, "available": 1}


# --- 5. Taking several tasks at once -----------------------------------------------------------


def test_a_doctor_takes_two_tasks_at_once_each_claim_traced(login_as, offered):
    doctor = offered.doctors[0]
    web = login_as(doctor)
    form = html(web.get("/taches?scope=available"))
    assert 'id="prendre-plusieurs"' in form
    task_ids = ids(*offered.visits)
    taken = web.post("/taches/prendre", {"task": task_ids})
    assert (taken.status_code, taken.headers["Location"]) == (302, "/taches?scope=mine")
    page = web.get("/taches")
    assert "2 tâche(s) prise(s)" in html(page)
    assert listed(page) == task_ids
    for task in offered.visits:
        assert Task.objects.get(id=task.id).assignee == doctor.id
        step = PathwayStep.objects.get(task=task.id)
        assert (step.kind, step.actor) == ("claim", doctor.id)
        event = AuditEvent.objects.get(action="task.claim", object_id=str(task.id))
        assert event.actor == str(doctor.id)


def test_a_task_taken_meanwhile_is_left_and_the_other_taken(login_as, offered, monkeypatch):
    """The other doctor takes the first task between the claim's read and its write."""
    from app.pathways import instances

    first, second = offered.visits
    one, two = offered.doctors
    get_task = instances.get_task

    def read_then_taken(actor, task_id, action="task.view"):
        found = get_task(actor, task_id, action)
        Task.objects(id=first.id).update_one(set__assignee=two.id)
        return found

    monkeypatch.setattr(instances, "get_task", read_then_taken)
    web = login_as(one)
    taken = web.post("/taches/prendre", {"task": ids(first, second)})
    assert taken.headers["Location"] == "/taches?scope=mine"
    page = text(web.get("/taches"))
    assert "1 tâche(s) prise(s)" in page
    assert "Cette tâche est déjà prise par quelqu'un d'autre." in page
    assert [Task.objects.get(id=t.id).assignee for t in (first, second)] == [two.id, one.id]
    assert PathwayStep.objects(kind="claim").count() == 1


def test_a_task_taken_before_the_selection_is_sent_is_said_taken(login_as, api_as, offered):
    first, second = offered.visits
    assert api_as(offered.doctors[1]).post(f"/tasks/{first.id}/claim").status_code == 200
    web = login_as(offered.doctors[0])
    web.post("/taches/prendre", {"task": ids(first, second)})
    assert Task.objects.get(id=second.id).assignee == offered.doctors[0].id
    assert TAKEN in text(web.get("/taches"))


@pytest.mark.parametrize(
    ("chosen", "message"),
    [
        ([], "Choisissez au moins une tâche."),
        ([str(ObjectId()) for _ in range(50)], "Au plus 50 tâches à la fois."),  # and 1 real
    ],
)
def test_a_selection_empty_or_too_large_changes_nothing(login_as, offered, chosen, message):
    web = login_as(offered.doctors[0])
    chosen = chosen and [*chosen, str(offered.visits[0].id)]
    before = snapshot(("tasks", "pathway_steps", "audit_events"))
    refused = web.post("/taches/prendre", {"task": chosen})
    assert refused.headers["Location"] == "/taches?scope=available"
    assert message in text(web.get("/taches?scope=available"))
    assert snapshot(("tasks", "pathway_steps", "audit_events")) == before


def test_the_api_takes_several_and_says_why_not_for_the_others(api_as, coordinator, offered):
    first, second = offered.visits
    one, two = (api_as(doctor) for doctor in offered.doctors)
    assert one.post(f"/tasks/{first.id}/claim").status_code == 200
    missing = str(ObjectId())
    answer = two.post("/tasks/claim-many", json={"tasks": [*ids(first, second), missing]})
    assert answer.status_code == 200, answer.json
    assert [t["id"] for t in answer.json["claimed"]] == ids(second)
    assert answer.json["claimed"][0]["assignee"] == str(offered.doctors[1].id)
    assert answer.json["refused"] == {
        str(first.id): f"Cette tâche {TAKEN} par quelqu'un d'autre.",
        missing: NOT_FOUND,
    }
    # Held by someone else, claimed on its own: 409, it was offered to them (issue 6).
    held = two.post(f"/tasks/{first.id}/claim")
    assert (held.status_code, held.json["error"]["message"]) == (409, instances.TAKEN)
    assert Task.objects.get(id=first.id).assignee == offered.doctors[0].id
    # The selection's bounds are the schema's.
    for chosen in ([], [missing] * 51):
        refused = two.post("/tasks/claim-many", json={"tasks": chosen})
        assert (refused.status_code, list(refused.json["error"]["fields"])) == (422, ["/tasks"])


# --- 6. The API's list -------------------------------------------------------------------------


def test_the_api_pages_a_list_with_its_total(api_as, offered):
    first, second = offered.visits
    page = api_as(offered.doctors[0]).get("/tasks?scope=available&per_page=1&page=2").json
    assert (page["total"], page["page"], page["per_page"]) == (2, 2, 1)
    [item] = page["items"]
    expected = (str(second.id), "suivi_gir", "Suivi GIR")
    assert (item["id"], item["pathway"], item["pathway_name"]) == expected
    assert (item["assignee"], item["assignee_name"]) == (None, None)
    assert page["counters"] == {"mine": 0, "available": 2}
    beyond = api_as(offered.doctors[0]).get("/tasks?scope=available&per_page=1&page=3").json
    assert (beyond["items"], beyond["total"]) == ([], 2)


# --- 7. Who must not see nor take --------------------------------------------------------------


def test_a_stranger_sees_only_their_own_list_and_takes_nothing(
    login_as, api_as, coordinator, other_structure, make_user, offered
):
    stranger = make_user(other_structure, profession="10")
    page = login_as(stranger).get("/taches?scope=followed")
    assert page.status_code == 200
    assert 'aria-current="page" href="/taches?scope=mine">Mes tâches' in html(page)
    assert "Aucune tâche ne vous attend." in html(page)
    assert "scope=followed" not in html(page)
    task = offered.visits[0]
    before = snapshot(("tasks", "pathway_steps"))
    web = login_as(stranger)
    web.post("/taches/prendre", {"task": str(task.id)})
    assert NOT_FOUND in text(web.get("/taches?scope=available"))
    api = api_as(stranger)
    claimed = api.post(f"/tasks/{task.id}/claim")
    assert (claimed.status_code, claimed.json["error"]["message"]) == (404, NOT_FOUND)
    assert api.post("/tasks/claim-many", json={"tasks": ids(task)}).json == {
        "claimed": [],
        "refused": {str(task.id): NOT_FOUND},
    }
    # The coordinator sees the task but is no candidate: refused, 403.
    assert api_as(coordinator).post(f"/tasks/{task.id}/claim").status_code == 403
    assert snapshot(("tasks", "pathway_steps")) == before
    assert AuditEvent.objects(action="task.claim").count() == 0
