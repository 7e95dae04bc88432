"""Who reads and who writes which discussion: a table of people × discussions checked through
the web pages and the API, then the circle's changes (consent withdrawn, a member removed, a
professional refused) and what they do to reading, writing and being told of new messages.

A discussion one may not see answers 404 like a missing one; a dossier thread one sees but may
not write in (consent withdrawn) answers 403. A refused read or write writes nothing."""

from types import SimpleNamespace

import pytest
from dossier_helpers import new_dossier
from helpers import html, snapshot

from app.clock import today
from app.discussions import services
from app.discussions.models import Message, Participation
from app.dossiers import circle
from app.notifications.models import Notification, OutgoingMail, UnreadCount

# What a refused request must leave exactly as it was.
TRACKED = ("discussions", "messages", "discussion_participants", "notifications")

# R: reads it (pages, poller, API: 200); W: writes in it (web 302, API 201); "": 404 for all.
DISCUSSIONS = ("thread", "one_to_one", "group")
ACCESS = {  # the dossier's thread, the 1:1 (participant, nurse), the group (participant, ...)
    "coordinator": ("RW", "", "RW"),  # coordinates the dossier; in the group
    "nurse": ("RW", "RW", ""),  # in the circle; in the 1:1
    "colleague": ("", "", "RW"),  # same structure as the coordinator, not in the circle
    "foreign_coordinator": ("", "", ""),  # a coordinator of another structure
    "refused": ("", "", ""),  # was in the circle until the patient refused them
    "admin": ("", "", ""),  # a platform administrator, not in the circle
    "participant": ("", "RW", "RW"),
    "outsider": ("", "", ""),  # in no conversation
}
CASES = [(person, d) for person in ACCESS for d in DISCUSSIONS]


@pytest.fixture
def world(app, coordinator, structure, other_structure, make_user, platform_admin):
    dossier = new_dossier(coordinator, structure)
    nurse = make_user(other_structure, name="Infirmière du cercle")
    refused = make_user(other_structure, profession="10", name="Dr Refusé")
    for person, role in ((nurse, "infirmier"), (refused, "medecin_traitant")):
        circle.add_member(coordinator, dossier, {"user": str(person.id), "care_role": role})
    thread = services.dossier_thread(coordinator, dossier)
    services.post(coordinator, thread, dossier, "Premier message du cercle")
    services.read(refused, thread, dossier)  # they followed the thread before the refusal
    circle.exclude(coordinator, dossier, {"user": str(refused.id), "reason": "Refus"})
    dossier.reload()
    people = SimpleNamespace(
        coordinator=coordinator,
        nurse=nurse,
        colleague=make_user(structure, name="Collègue hors cercle"),
        foreign_coordinator=make_user(
            other_structure, roles=["coordinator"], profession="coordinateur"
        ),
        refused=refused,
        admin=platform_admin,
        participant=make_user(other_structure, name="Participante"),
        outsider=make_user(other_structure, name="Hors conversation"),
    )
    one_to_one = services.start_conversation(people.participant, [nurse.id])
    group = services.start_conversation(
        people.participant, [coordinator.id, people.colleague.id], "Sortie d'hospitalisation"
    )
    for conversation in (one_to_one, group):
        services.post(people.participant, conversation, None, "Bonjour à tous")
    discussions = {"thread": thread, "one_to_one": one_to_one, "group": group}
    return SimpleNamespace(dossier=dossier, people=people, discussions=discussions)


def routes(world, name):
    """(label, method, url, via) of every way in: the thread's own addresses, then the
    addresses by discussion id (the API's conversation routes take a thread's id too)."""
    discussion = world.discussions[name]
    by_id = f"/messages/{discussion.id}"
    api_by_id = f"/conversations/{discussion.id}/messages"
    found = [
        ("web page", "GET", by_id, "web"),
        ("web poller", "GET", f"{by_id}/suite?apres=0", "web"),
        ("api read", "GET", api_by_id, "api"),
        ("web post", "POST", by_id, "web"),
        ("api post", "POST", api_by_id, "api"),
    ]
    if name == "thread":
        api = f"/dossiers/{world.dossier.id}/messages"
        found[0] = ("web page", "GET", f"/dossiers/{world.dossier.id}/discussion", "web")
        found += [
            ("web page by id", "GET", f"{by_id}?x=1", "web"),
            ("web id redirect", "GET", by_id, "web"),
            ("api thread read", "GET", api, "api"),
            ("api thread post", "POST", api, "api"),
        ]
    return found


def expected_status(label, method, rights):
    if method == "GET":
        if "R" not in rights:
            return 404
        return 302 if label == "web id redirect" else 200
    if "W" in rights:
        return 302 if label.startswith("web") else 201
    return 403 if "R" in rights else 404


@pytest.mark.parametrize(("person", "discussion"), CASES, ids=[f"{p}-{d}" for p, d in CASES])
def test_who_reads_and_writes_each_discussion(world, login_as, api_as, person, discussion):
    rights = ACCESS[person][DISCUSSIONS.index(discussion)]
    user = getattr(world.people, person)
    clients = {"web": login_as(user), "api": api_as(user)}
    found, expected = {}, {}
    before = snapshot(TRACKED)
    mine = Message.objects(author=user.id, discussion=world.discussions[discussion].id)
    counts = Message.objects.count(), mine.count()
    for label, method, url, via in routes(world, discussion):
        client = clients[via]
        if method == "GET":
            response = client.get(url)
        else:
            body = {"body": f"Message de {person} ({label})"}
            response = client.post(url, body) if via == "web" else client.post(url, json=body)
            if response.status_code >= 400 and via == "api":
                assert response.json["error"]["code"] in ("not_found", "forbidden")
        found[label] = response.status_code
        expected[label] = expected_status(label, method, rights)
    assert found == expected
    writes = sum(1 for label in found if label.endswith("post"))
    if "W" in rights:
        assert (Message.objects.count(), mine.count()) == (counts[0] + writes, counts[1] + writes)
    elif "R" not in rights:  # nothing read, nothing marked, nothing written
        assert snapshot(TRACKED) == before


def test_after_consent_withdrawal_the_coordinator_reads_but_nobody_writes(world, login_as, api_as):
    """The policy's rule (app/policy.py, _sees_dossier): once consent is withdrawn, only the
    coordinating structure's coordinators still see the dossier, read-only; the circle's
    other members lose the thread altogether."""
    people, dossier = world.people, world.dossier
    thread = world.discussions["thread"]
    services.post(people.nurse, thread, dossier, "Passage prévu jeudi")
    circle.withdraw_consent(people.coordinator, dossier, {"date": today(), "reason": "Refus"})
    coord_web, coord_api = login_as(people.coordinator), api_as(people.coordinator)
    page = html(coord_web.get(f"/dossiers/{dossier.id}/discussion"))
    assert "Passage prévu jeudi" in page
    assert 'id="ecrire"' not in page  # no form: a read-only notice instead
    assert "pas y écrire" in page
    listed = coord_api.get(f"/dossiers/{dossier.id}/messages")
    assert [m["body"] for m in listed.json["items"]] == [
        "Premier message du cercle",
        "Passage prévu jeudi",
    ]
    before = snapshot(TRACKED)
    refused = coord_api.post(f"/dossiers/{dossier.id}/messages", json={"body": "Encore ?"})
    assert (refused.status_code, refused.json["error"]["code"]) == (403, "forbidden")
    by_id = coord_api.post(f"/conversations/{thread.id}/messages", json={"body": "Encore ?"})
    assert by_id.status_code == 403
    assert coord_web.post(f"/messages/{thread.id}", {"body": "Encore ?"}).status_code == 403
    after = snapshot(TRACKED)
    assert (after["messages"], after["discussion_participants"]) == (
        before["messages"],
        before["discussion_participants"],
    )
    # The nurse, still listed in the circle, no longer sees the dossier: 404, not 403.
    nurse_web, nurse_api = login_as(people.nurse), api_as(people.nurse)
    assert nurse_web.get(f"/dossiers/{dossier.id}/discussion").status_code == 404
    assert nurse_web.get(f"/messages/{thread.id}/suite?apres=0").status_code == 404
    assert nurse_api.get(f"/dossiers/{dossier.id}/messages").status_code == 404
    assert nurse_api.post(f"/dossiers/{dossier.id}/messages", json={"body": "x"}).status_code == 404
    assert nurse_web.post(f"/messages/{thread.id}", {"body": "x"}).status_code == 404
    assert Message.objects.count() == len(listed.json["items"]) + 2  # + the two conversations'


def test_a_member_removed_from_the_circle_no_longer_reads_nor_hears(world, login_as, api_as):
    people, dossier = world.people, world.dossier
    thread = world.discussions["thread"]
    nurse_api, nurse_web = api_as(people.nurse), login_as(people.nurse)
    assert nurse_api.get(f"/dossiers/{dossier.id}/messages").status_code == 200
    assert f"/dossiers/{dossier.id}/discussion" in html(nurse_web.get("/messages"))
    notices = Notification.objects(user=people.nurse.id, kind="message").count()
    circle.remove_member(people.coordinator, dossier, dossier.member_for(people.nurse.id).id)
    services.post(people.coordinator, thread, dossier.reload(), "Après son départ")
    assert nurse_api.get(f"/dossiers/{dossier.id}/messages").status_code == 404
    assert nurse_api.get(f"/conversations/{thread.id}/messages").status_code == 404
    assert nurse_web.get(f"/dossiers/{dossier.id}/discussion").status_code == 404
    mine = Participation.objects.get(user=people.nurse.id, discussion=thread.id)
    assert mine.unread == 0
    assert Notification.objects(user=people.nurse.id, kind="message").count() == notices
    # Her list of discussions shows the 1:1 still, no longer the dossier's thread.
    listed = html(nurse_web.get("/messages"))
    assert f"/messages/{world.discussions['one_to_one'].id}" in listed
    assert f"/dossiers/{dossier.id}/discussion" not in listed


def test_leaving_the_circle_clears_its_unread_messages_from_the_badge(world, login_as):
    people, dossier = world.people, world.dossier
    services.post(people.coordinator, world.discussions["thread"], dossier, "Non lu")
    assert UnreadCount.objects.get(user=people.nurse.id).messages == 3  # 2 here, 1 in the 1:1
    nurse = login_as(people.nurse)
    assert 'aria-label="3 non lu(s)"' in html(nurse.get("/messages"))
    circle.remove_member(people.coordinator, dossier, dossier.member_for(people.nurse.id).id)
    readable = sum(row.unread for row, *_ in services.mine(people.nurse))
    assert readable == 1
    assert UnreadCount.objects.get(user=people.nurse.id).messages == readable
    assert 'aria-label="1 non lu(s)"' in html(nurse.get("/messages"))


def test_a_refused_professional_never_hears_of_the_thread_again(world, login_as):
    people, dossier = world.people, world.dossier
    refused = people.refused
    followed = Participation.objects.get(user=refused.id, discussion=world.discussions["thread"].id)
    assert (followed.unread, followed.read_seq) == (0, 1)  # read before the refusal
    notices = Notification.objects(user=refused.id, kind="message").count()
    assert notices == 1  # of the first message, while they were in the circle
    mails = OutgoingMail.objects(user=refused.id).count()
    coord = login_as(people.coordinator)
    for body in ("Après le refus", "Et encore"):
        sent = coord.post(f"/messages/{world.discussions['thread'].id}", {"body": body})
        assert sent.status_code == 302
    assert Participation.objects.get(id=followed.id).unread == 0
    assert UnreadCount.objects(user=refused.id, messages__ne=0).count() == 0
    assert Notification.objects(user=refused.id, kind="message").count() == notices
    assert OutgoingMail.objects(user=refused.id).count() == mails
    # The nurse, still in the circle, heard of it: the test would see a delivery.
    assert Participation.objects.get(user=people.nurse.id, discussion=followed.discussion).unread
    refused_web = login_as(refused)
    assert "Après le refus" not in html(refused_web.get("/messages"))
    assert refused_web.get(f"/dossiers/{dossier.id}/discussion").status_code == 404
