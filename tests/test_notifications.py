"""Who is told what (the signals of the services, pathways run for real), and the pages: the
bell on every page for one round trip, the list (mark one or all read, open), the preferences."""

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from dossier_helpers import new_dossier
from helpers import html
from test_notifications_mail import open_task
from test_pathway_instances import EVALUATION, world  # noqa: F401
from test_pathway_worker import waiting_visits  # noqa: F401

from app import clock, policy, signals
from app.accounts.models import User
from app.dossiers import circle
from app.dossiers import services as dossier_services
from app.dossiers.models import Dossier
from app.errors import Forbidden
from app.notifications import listeners, services
from app.notifications.models import Notification, UnreadCount
from app.pathways.models import Task


def notices(user, kind=None):
    found = Notification.objects(user=user.id)
    if kind:
        found = found.filter(kind=kind)
    return [(n.kind, n.text, n.url) for n in found.order_by("id")]


def kinds_of(user):
    return [kind for kind, *_ in notices(user)]


# --- pathways: tasks, reminders, escalations -------------------------------------------------


def test_a_running_pathway_tells_who_must_act(api_as, coordinator, world):  # noqa: F811
    dossier, gp, nurse = world
    coord = api_as(coordinator)
    started = coord.post(f"/dossiers/{dossier.id}/pathways", json={"pathway": "suivi_gir"})
    assert started.status_code == 201
    # The first step's lane (coordinateur) is the coordinator's, in the circle: she started
    # the pathway herself, she is not told of the step it gave her.
    [step] = Task.objects(status="open")
    assert step.assignee == coordinator.id
    assert notices(coordinator) == []
    assert kinds_of(gp) == kinds_of(nurse) == ["circle_added"]  # the world made them members
    done = coord.post(f"/tasks/{step.id}/complete", json={"data": EVALUATION})
    assert done.status_code == 200
    # GIR 2: the service task "Prévenir le médecin" (template gir_alert, no recipient) alerts
    # the coordination; the visit goes to the doctor of the circle.
    [visit] = Task.objects(status="open")
    instance = started.json["instance"]
    assert notices(coordinator, "escalation") == [
        ("escalation", "Alerte du parcours « Suivi GIR » : Prévenir le médecin",
         f"/parcours/instances/{instance}"),
    ]  # fmt: skip
    assert notices(gp, "task_assigned") == [
        ("task_assigned", "Nouvelle tâche pour vous : « Visite à domicile »",
         f"/taches/{visit.id}"),
    ]  # fmt: skip


def test_a_task_taken_or_handed_over(api_as, coordinator, world, make_user, structure):  # noqa: F811
    dossier, *_ = world
    colleague = make_user(structure, roles=["coordinator"], profession="coordinateur",
                          name="Collègue")  # fmt: skip
    coord, other = api_as(coordinator), api_as(colleague)
    coord.post(f"/dossiers/{dossier.id}/pathways", json={"pathway": "suivi_gir"})
    [step] = Task.objects(status="open")
    Notification.objects.delete()
    assert coord.post(f"/tasks/{step.id}/release").status_code == 200
    offered = ("task_available", "Tâche de nouveau à prendre : « Évaluation multidimensionnelle »",
               f"/taches/{step.id}")  # fmt: skip
    assert notices(colleague) == [offered]  # given back: offered to the others
    assert notices(coordinator) == []
    Notification.objects.delete()
    assert other.post(f"/tasks/{step.id}/claim").status_code == 200
    assert notices(colleague) == []  # taking it oneself: no notice
    given = other.post(f"/tasks/{step.id}/assign", json={"user": str(coordinator.id)})
    assert given.status_code == 200, given.json
    assert notices(coordinator) == [
        ("task_assigned", "Collègue vous a confié la tâche « Évaluation multidimensionnelle »",
         f"/taches/{step.id}"),
    ]  # fmt: skip
    assert notices(colleague) == []


def test_candidates_are_the_active_members_of_the_profession(
    coordinator, structure, make_user, other_structure
):
    nurses = [make_user(structure, profession="60") for _ in range(2)]
    make_user(structure, profession="60", status="suspended")
    make_user(structure, profession="10")  # another profession
    make_user(other_structure, profession="60")  # another structure
    dossier = new_dossier(coordinator, structure)
    task = open_task(dossier, None, candidates_structure=structure.id,
                     candidate_professions=["60"])  # fmt: skip
    told = listeners.task_created(task, dossier)
    assert sorted(n.user for n in told) == sorted(n.id for n in nurses)


def fake_instance(dossier, name="Suivi GIR"):
    from bson import ObjectId

    return SimpleNamespace(id=dossier.id if dossier else ObjectId(), name=name,
                           pathway="suivi_gir")  # fmt: skip


def call(params, operator="notify"):
    return {"element": "rappel", "name": "Rappel", "operator": operator, "params": params,
            "result": None}  # fmt: skip


@pytest.fixture
def circle_people(coordinator, structure, make_user, other_structure):
    """A dossier with a doctor, a nurse, a circle coordinator and a referent."""
    dossier = new_dossier(coordinator, structure)
    people = SimpleNamespace(
        gp=make_user(other_structure, profession="10"),
        nurse=make_user(other_structure, profession="60"),
        circle_coordinator=make_user(other_structure, profession="coordinateur"),
        coordinator=coordinator,
        admin=make_user(platform_admin=True),
    )
    for person, role in ((people.gp, "medecin_traitant"), (people.nurse, "infirmier"),
                         (people.circle_coordinator, "coordinateur")):  # fmt: skip
        circle.add_member(coordinator, dossier, {"user": str(person.id), "care_role": role})
    dossier.reload()
    dossier_services.update_dossier(coordinator, dossier, {"referent": str(people.nurse.id)})
    dossier.reload()
    Notification.objects.delete()
    return dossier, people


@pytest.mark.parametrize(
    ("params", "told", "kind"),
    [
        ({"role": "medecin_traitant"}, ["gp"], "reminder"),
        ({"to": "infirmier", "template": "rappel"}, ["nurse"], "reminder"),
        ({"to": "infirmier", "kind": "escalade"}, ["nurse"], "escalation"),
        # The coordination is the dossier's referent (the nurse here), never every
        # coordinator of the structure.
        ({"to": "coordination"}, ["nurse"], "escalation"),
        (
            {"role": "coordinateur", "kind": "relance"},
            ["nurse"],
            "reminder",
        ),
        ({"to": "referent"}, ["nurse"], "reminder"),
        ({"to": "assignee"}, ["gp"], "reminder"),
        ({}, ["nurse"], "escalation"),
        # Nobody holds the role, an unknown value, an address: the coordination, never a mail
        # to whatever address a pathway names.
        ({"role": "kinesitherapeute"}, ["nurse"], "reminder"),
        ({"to": "pirate@example.com"}, ["nurse"], "reminder"),
        ({"to": "equipe_plateforme"}, ["admin"], "reminder"),
    ],
)
def test_reminders_and_escalations_go_where_the_pathway_says(circle_people, params, told, kind):
    dossier, people = circle_people
    task = open_task(dossier, people.gp)
    signals.service_called.send(fake_instance(dossier), dossier=dossier, call=call(params))
    found = Notification.objects(kind=kind)
    names = {getattr(people, name).id: name for name in vars(people)}
    assert sorted(names[n.user] for n in found) == sorted(told)
    assert Notification.objects.count() == len(told)
    for notice in found:  # their own task of the pathway, else the pathway's page
        expected = f"/taches/{task.id}" if notice.user == people.gp.id else \
            f"/parcours/instances/{dossier.id}"  # fmt: skip
        assert notice.url == expected
        what = "Alerte" if kind == "escalation" else "Relance"
        assert notice.text == f"{what} du parcours « Suivi GIR » : Rappel"


def test_a_notice_to_the_coordination_goes_to_the_referent_alone(
    waiting_visits,  # noqa: F811
    make_user,
    structure,
    api_as,
):
    """Issue 19: a pathway's notify to the coordination went to every coordinator of the
    structure (43 e-mails per timer). It goes to the dossier's referent, once."""
    from app.notifications.models import OutgoingMail
    from app.pathways.models import PathwayInstance
    from app.pathways.worker import fire_due_timers

    others = [make_user(structure, roles=["coordinator"], profession="coordinateur")
              for _ in range(3)]  # fmt: skip
    [instance_id] = waiting_visits(1, to="coordination")
    instance = PathwayInstance.objects.get(id=instance_id)
    referent = User.objects.get(id=Dossier.objects.get(id=instance.dossier).referent)
    Notification.objects.delete()
    OutgoingMail.objects.delete()
    with clock.travel(timedelta(days=7, minutes=1)):
        assert fire_due_timers() == 1
    told = [(n.user, n.kind) for n in Notification.objects]
    assert told == [(referent.id, "reminder")]  # the template says rappel
    assert [m.to for m in OutgoingMail.objects] == [referent.email]
    assert all(Notification.objects(user=other.id).count() == 0 for other in others)
    # The referent reads it on the page of notifications, with the pathway's link.
    listed = api_as(referent).get("/notifications").json["items"]
    assert [item["kind"] for item in listed] == ["reminder"]


def test_send_email_is_a_notice_too_and_other_services_are_not(circle_people):
    dossier, people = circle_people
    signals.service_called.send(
        fake_instance(dossier), dossier=dossier, call=call({"to": "x@y.fr"}, "send_email")
    )
    assert Notification.objects.count() == 1  # the coordination: the referent
    signals.service_called.send(
        fake_instance(dossier), dossier=dossier, call=call({"to": "infirmier"}, "http_get")
    )
    assert Notification.objects.count() == 1


def test_a_platform_process_tells_the_platform_team(circle_people):
    _, people = circle_people
    signals.service_called.send(fake_instance(None), dossier=None, call=call({"to": "x"}))
    assert [n.user for n in Notification.objects] == [people.admin.id]


# --- circles of care, consent, accounts ------------------------------------------------------


def test_added_to_a_circle(coordinator, structure, make_user):
    dossier = new_dossier(coordinator, structure)
    gp = make_user(structure, profession="10")
    circle.add_member(coordinator, dossier, {"user": str(gp.id), "care_role": "medecin_traitant"})
    assert notices(gp) == [
        ("circle_added", "Coordinatrice vous a ajouté(e) au cercle de soins d'une personne "
         "(Médecin traitant)", f"/dossiers/{dossier.id}"),
    ]  # fmt: skip
    assert notices(coordinator) == []


def test_a_join_request_goes_to_those_who_decide(circle_people, make_user, structure):
    dossier, people = circle_people
    refused = make_user(structure, roles=["coordinator"], profession="coordinateur")
    circle.exclude(people.coordinator, dossier, {"user": str(refused.id)})
    Notification.objects.delete()
    asker = make_user(structure, profession="21")
    circle.request_join(asker, dossier, {"care_role": "pharmacien", "message": "Bonjour"})
    told = sorted(n.user for n in Notification.objects(kind="join_request"))
    # The dossier's coordination, its referent: not every coordinator of the structure.
    assert told == [people.nurse.id]
    [notice] = Notification.objects(user=people.nurse.id)
    assert notice.text == f"{asker.name} demande à rejoindre un cercle de soins (Pharmacien)"
    assert notice.url == f"/dossiers/{dossier.id}/cercle"
    assert "Bonjour" not in notice.text  # the requester's message stays in the dossier
    # A referent who may no longer decide: the structure's coordinators, who may; never a
    # coordinator the patient refused.
    User.objects(id=people.nurse.id).update_one(set__status="suspended")
    Notification.objects.delete()
    other = make_user(structure, profession="21")
    circle.request_join(other, dossier, {"care_role": "pharmacien", "message": "Bonjour"})
    assert [n.user for n in Notification.objects(kind="join_request")] == [people.coordinator.id]


def test_consent_withdrawn_tells_the_circle_and_the_referent(circle_people, make_user, structure):
    dossier, people = circle_people
    bystander = make_user(structure, roles=["coordinator"], profession="coordinateur")
    circle.withdraw_consent(people.gp, dossier, {"date": clock.today(), "reason": "Refus"})
    told = {n.user: n.url for n in Notification.objects(kind="consent_withdrawn")}
    # The circle (the coordinator who made the dossier is in it) and the referent (the nurse);
    # not a coordinator of the structure outside the dossier.
    assert set(told) == {people.nurse.id, people.circle_coordinator.id, people.coordinator.id}
    assert bystander.id not in told
    # The members lost access: their link goes to their dossiers; the coordinators keep a
    # read-only view of it.
    assert told[people.nurse.id] == "/dossiers/"
    assert told[people.coordinator.id] == f"/dossiers/{dossier.id}"


@pytest.mark.parametrize("decision", ["verified", "suspended", "something-new"])
def test_an_account_decision_tells_the_account(make_user, platform_admin, decision):
    user = make_user(status="suspended" if decision == "suspended" else "active")
    signals.account_decided.send(platform_admin, user=user, decision=decision)
    [(kind, text, url)] = notices(user)
    assert (kind, url) == ("account", "/")
    assert text == listeners.ACCOUNT_DECISIONS.get(
        decision, "Une décision a été prise sur votre compte."
    )


def test_a_failing_notice_never_breaks_the_action(coordinator, structure, make_user, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(listeners, "notify", broken)
    dossier = new_dossier(coordinator, structure)
    gp = make_user(structure, profession="10")
    member = circle.add_member(
        coordinator, dossier, {"user": str(gp.id), "care_role": "medecin_traitant"}
    )
    assert member.user == gp.id
    assert Notification.objects.count() == 0


def test_overdue_tasks_of_a_suspended_pathway_are_not_told(coordinator, structure, professional):
    from app.notifications.worker import notify_overdue

    dossier = new_dossier(coordinator, structure)
    open_task(dossier, professional, due_at=clock.utcnow() - timedelta(hours=1))
    dossier.reload()
    circle.withdraw_consent(coordinator, dossier, {"date": clock.today(), "reason": "Refus"})
    assert set(Task.objects.scalar("status")) == {"suspended"}  # out of every inbox
    assert notify_overdue() == 0
    assert notices(professional, "task_overdue") == []


# --- the bell ------------------------------------------------------------------------------


def bell(page):
    match = re.search(r'id="cloche"\s+aria-label="([^"]*)"', page)
    assert match, page[:2000]
    badge = re.search(r'id="cloche".*?(?:badge[^>]*>([^<]*)</span>)?\s*</a>', page, re.S)
    return match.group(1), badge.group(1)


def tell(people, n=1, kind="account"):
    made = []
    for _ in range(n):
        made += services.notify(people, kind, "Votre compte est vérifié.", "/")
    return made


def test_the_bell_counts_unread_notifications(login_as, professional):
    web = login_as(professional)
    assert bell(html(web.get("/"))) == ("Notifications", None)
    made = tell([professional], 3)
    assert bell(html(web.get("/"))) == ("Notifications : 3 non lue(s)", "3")
    services.mark_read(professional, made[0].id)
    assert bell(html(web.get("/dossiers/"))) == ("Notifications : 2 non lue(s)", "2")
    services.mark_all_read(professional)
    assert bell(html(web.get("/"))) == ("Notifications", None)


def test_the_bell_shows_99_plus(login_as, professional):
    UnreadCount(user=professional.id, count=250).save()
    assert bell(html(login_as(professional).get("/")))[1] == "99+"


def test_the_bell_costs_one_read_by_key(login_as, professional, db_commands):
    web = login_as(professional)
    tell([professional], 5)
    web.get("/")
    db_commands.reset()
    web.get("/")
    mine = [t for t in db_commands.targets if "notification" in t]
    assert mine == ["find notification_unread"]


def test_counts_stay_exact_when_marking_twice(professional):
    made = tell([professional], 2)
    services.mark_read(professional, made[0].id)
    services.mark_read(professional, made[0].id)  # again: no second decrement
    assert services.unread_count(professional) == 1
    assert services.mark_all_read(professional) == 1
    assert services.mark_all_read(professional) == 0
    assert services.unread_count(professional) == 0


# --- the list --------------------------------------------------------------------------------


def test_the_list_newest_first_with_pages(app, login_as, professional):
    app.config["NOTIFY_MAX_PER_HOUR"] = 0  # 25 of a kind at once: the pages are the point
    web = login_as(professional)
    for n in range(25):
        services.notify([professional], "account", f"Notice {n:02}", "/")
    page = html(web.get("/notifications"))
    shown = re.findall(r"Notice (\d\d)", page)
    assert shown == [f"{n:02}" for n in range(24, 4, -1)]
    after = re.search(r'href="(/notifications\?apres=[^"]+)"', page).group(1)
    rest = html(web.get(after.replace("&amp;", "&")))
    assert re.findall(r"Notice (\d\d)", rest) == ["04", "03", "02", "01", "00"]
    assert "Notifications plus anciennes" not in rest


def test_pages_read_windows_not_everything(professional):
    """Old notices are found through the windows; a page never reads them all."""
    made = tell([professional], 3)
    old = clock.utcnow() - timedelta(days=400)
    from bson import ObjectId

    for notice in made[:2]:  # written long ago
        Notification.objects(id=notice.id).delete()
        notice.id = ObjectId.from_datetime(old)
        notice.save(force_insert=True)
        old += timedelta(seconds=1)
    found, after = services.page(professional, per_page=2)
    assert [n.id for n in found][0] == made[2].id
    assert after is not None
    more, last = services.page(professional, after=after, per_page=2)
    assert len(found) + len(more) == 3
    assert last is None


def test_mark_one_then_all_read(login_as, professional):
    web = login_as(professional)
    made = tell([professional], 3)
    assert web.post(f"/notifications/{made[0].id}/lu").status_code == 302
    assert Notification.objects.get(id=made[0].id).read_at is not None
    unread_page = html(web.get("/notifications?filtre=non-lues"))
    assert unread_page.count("Marquer comme lue") == 2
    assert "Non lues (2)" in unread_page
    assert web.post("/notifications/tout-lu").status_code == 302
    assert Notification.objects(read_at=None).count() == 0
    assert "Aucune notification non lue." in html(web.get("/notifications?filtre=non-lues"))


def test_opening_a_notice_marks_it_read_and_goes_to_its_page(login_as, professional):
    web = login_as(professional)
    [notice] = services.notify([professional], "account", "Compte", "/aide")
    opened = web.get(f"/notifications/{notice.id}")
    assert (opened.status_code, opened.headers["Location"]) == (302, "/aide")
    assert Notification.objects.get(id=notice.id).read_at is not None


def test_only_the_owner_reads_or_marks_a_notification(login_as, professional, make_user, structure):
    [notice] = tell([professional])
    for other in (make_user(structure), make_user(platform_admin=True)):
        web = login_as(other)
        assert web.get(f"/notifications/{notice.id}").status_code == 404
        assert web.post(f"/notifications/{notice.id}/lu").status_code == 404
        assert web.post("/notifications/tout-lu").status_code == 302  # their own: none
        assert "Votre compte est vérifié." not in html(web.get("/notifications"))
    assert Notification.objects.get(id=notice.id).read_at is None
    for bad in ("nope", "0" * 24, "%3Cscript%3E"):
        assert login_as(professional).get(f"/notifications/{bad}").status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(client, professional):
    [notice] = tell([professional])
    for url in ("/notifications", f"/notifications/{notice.id}", "/notifications/preferences"):
        answer = client.get(url)
        assert answer.status_code == 302
        assert "/connexion" in answer.headers["Location"]


def test_the_list_names_a_patient_only_to_who_may_see_the_dossier(circle_people, login_as):
    dossier, people = circle_people
    circle.withdraw_consent(people.gp, dossier, {"date": clock.today(), "reason": "Refus"})
    name = dossier.identity.display_name
    assert name in html(login_as(people.coordinator).get("/notifications"))
    nurse_page = html(login_as(people.nurse).get("/notifications"))
    assert "Consentement retiré" in nurse_page
    assert name not in nurse_page


# --- preferences ---------------------------------------------------------------------------


def checked(page, kind):
    return re.search(rf'name="{kind}" id="c-{kind}-(\w+)" value="\w+" checked', page).group(1)


def test_the_preferences_page(login_as, professional):
    web = login_as(professional)
    assert "/notifications/preferences" in html(web.get("/profil"))
    page = html(web.get("/notifications/preferences"))
    assert checked(page, "task_assigned") == "immediate"
    assert checked(page, "task_available") == "digest"
    saved = web.post("/notifications/preferences", {"task_assigned": "app", "account": "off"})
    assert saved.status_code == 302
    page = html(web.get("/notifications/preferences"))
    assert (checked(page, "task_assigned"), checked(page, "account")) == ("app", "off")
    assert checked(page, "reminder") == "immediate"  # untouched


def test_a_bad_channel_is_refused_on_the_page(login_as, professional):
    web = login_as(professional)
    refused = web.post("/notifications/preferences", {"task_assigned": "pigeon"})
    assert refused.status_code == 400
    assert "Choisissez une valeur de la liste." in html(refused)
    assert services.get_preferences(professional).channels == {}


def test_no_more_emails_in_one_click_and_back(login_as, professional):
    web = login_as(professional)
    assert web.post("/notifications/preferences/e-mails", {"email": "off"}).status_code == 302
    preference = services.get_preferences(professional)
    assert preference.email_off
    assert preference.channel("task_assigned") == "app"
    assert "Recevoir de nouveau les e-mails" in html(web.get("/notifications/preferences"))
    web.post("/notifications/preferences/e-mails", {"email": "on"})
    assert services.get_preferences(professional).channel("task_assigned") == "immediate"


def test_preferences_are_ones_own(professional, make_user, structure):
    other = make_user(structure)
    assert policy.can(professional, "notification.preferences", professional)
    assert not policy.can(professional, "notification.preferences", other)
    with pytest.raises(Forbidden):
        services.update_preferences(professional, {"email": False}, user=other)


def test_the_help_explains_notifications(client):
    page = html(client.get("/aide"))
    assert "Notifications et préférences" in page


def test_the_worker_forgets_old_read_notices_and_finished_mails(professional):
    from app.notifications.models import OutgoingMail
    from app.notifications.worker import forget_old

    now = clock.utcnow()
    old, recent = now - timedelta(days=400), now - timedelta(days=10)
    kept = {"user": professional.id, "kind": "account", "text": "x", "url": "/"}
    Notification(**kept, read_at=old, created_at=old).save()  # read long ago: goes
    Notification(**kept, read_at=recent, created_at=old).save()  # read lately: stays
    Notification(**kept, created_at=old).save()  # unread: stays, however old
    mail = {"to": "a@b.fr", "subject": "s", "message_id": "<m@x>"}
    OutgoingMail(**mail, key="sent-old", status="sent", created_at=old).save()
    OutgoingMail(**mail, key="pending-old", status="pending", created_at=old).save()
    OutgoingMail(**mail, key="sent-recent", status="sent", created_at=recent).save()
    assert forget_old(now) == 2
    assert Notification.objects.count() == 2
    assert sorted(OutgoingMail.objects.scalar("key")) == ["pending-old", "sent-recent"]
    assert forget_old(now) == 0


# --- at most NOTIFY_MAX_PER_HOUR notices of one kind an hour (issue 17) ----------------------


def test_past_the_hourly_cap_notices_fold_into_one_without_e_mail(app, professional, make_user):
    from app.notifications.models import OutgoingMail

    app.config["NOTIFY_MAX_PER_HOUR"] = 5
    other = make_user()
    made = tell([professional, other], 5)
    assert len(made) == 10
    past = tell([professional], 4)  # the 6th folds the next ones; the others count
    assert len(past) == 1
    folded = Notification.objects.get(id=past[0].id)
    assert folded.text == (
        "Et 4 autres notifications « Décision sur mon compte » en une heure : au-delà de 5, "
        "elles sont regroupées ici, sans e-mail."
    )
    assert (folded.mail, folded.url, folded.dossier) == (None, "/notifications", None)
    assert Notification.objects(user=professional.id).count() == 6
    assert services.unread_count(professional) == 6
    assert OutgoingMail.objects(user=professional.id).count() == 5
    # Another kind, another person: their own counts.
    assert len(services.notify([professional], "message", "Nouveau message", "/")) == 1
    [their_sixth] = tell([other], 1)
    assert their_sixth.text.startswith("Et 1 autre notification « Décision sur mon compte »")
    assert Notification.objects(user=other.id).count() == 6
    # Next hour, the count starts again.
    with clock.travel(timedelta(hours=1)):
        assert len(tell([professional], 1)) == 1
    assert Notification.objects(user=professional.id, kind="account").count() == 7


def test_no_cap_when_set_to_zero(app, professional):
    app.config["NOTIFY_MAX_PER_HOUR"] = 0
    assert len(tell([professional], 25)) == 25


def test_the_worker_forgets_the_counts_of_past_hours(app, professional):
    from app.notifications.models import NotificationRate
    from app.notifications.worker import forget_old

    tell([professional], 2)
    assert NotificationRate.objects.count() == 1
    assert forget_old(clock.utcnow() + timedelta(minutes=30)) == 0
    assert forget_old(clock.utcnow() + timedelta(hours=3)) == 1
    assert NotificationRate.objects.count() == 0
