"""Discussions in the browser: a dossier's thread for its circle of care, conversations
between professionals, unread counts and read state, live refresh, files, bad input."""

import io

from helpers import html
from test_pathway_instances import world  # noqa: F401

from app.audit import AuditEvent
from app.discussions.models import Discussion, Message, Participation
from app.dossiers.models import Entry
from app.notifications.models import Notification

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_the_circle_talks_in_the_dossier_thread(login_as, coordinator, world):  # noqa: F811
    dossier, gp, nurse = world
    coord = login_as(coordinator)
    page = html(coord.get(f"/dossiers/{dossier.id}/discussion"))
    assert "Aucun message pour l'instant" in page
    sent = coord.post(
        f"/messages/{Discussion.objects.get(dossier=dossier.id).id}",
        {"body": "Bonjour,\n<script>alert(1)</script> passage demain ?"},
    )
    assert sent.status_code == 302, html(sent)
    message = Message.objects.get()
    assert message.seq == 1
    # The nurse, in the circle: one unread, a notice, the message escaped.
    nurse_web = login_as(nurse)
    home = html(nurse_web.get("/"))
    assert 'id="nav-messages"' in home
    assert Participation.objects.get(user=nurse.id).unread == 1
    assert Notification.objects(user=nurse.id, kind="message").count() == 1
    thread = html(nurse_web.get(f"/dossiers/{dossier.id}/discussion"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt; passage demain ?" in thread
    assert "<script>alert(1)" not in thread
    assert Participation.objects.get(user=nurse.id).unread == 0
    # She answers; the coordinator sees it through the poller, and "seen by".
    nurse_web.post(f"/messages/{message.discussion}", {"body": "Oui, vers 10 h."})
    since = html(coord.get(f"/messages/{message.discussion}/suite?apres=1"))
    assert "Oui, vers 10 h." in since
    assert "apres=2" in since
    assert AuditEvent.objects(action="message.post").count() == 2


def test_a_stranger_gets_404_and_bad_messages_are_refused(
    login_as,
    coordinator,
    world,  # noqa: F811
    make_user,
    other_structure,
):
    dossier, gp, nurse = world
    coord = login_as(coordinator)
    coord.get(f"/dossiers/{dossier.id}/discussion")
    discussion = Discussion.objects.get(dossier=dossier.id)
    stranger = login_as(make_user(other_structure, profession="60"))
    assert stranger.get(f"/dossiers/{dossier.id}/discussion").status_code == 404
    assert stranger.get(f"/messages/{discussion.id}?x=1").status_code == 404
    assert stranger.post(f"/messages/{discussion.id}", {"body": "coucou"}).status_code == 404
    assert coord.post(f"/messages/{discussion.id}", {"body": "   "}).status_code == 400
    too_long = coord.post(f"/messages/{discussion.id}", {"body": "x" * 20_001})
    assert too_long.status_code == 400
    assert "20 000 caractères" in html(too_long)
    exe = coord.post(
        f"/messages/{discussion.id}",
        {"body": "voici", "files": (io.BytesIO(b"MZ\x90\x00" + b"\x00" * 100), "virus.exe")},
        content_type="multipart/form-data",
    )
    assert exe.status_code == 400
    assert "type de fichier" in html(exe)
    assert Message.objects.count() == 0
    ok = coord.post(
        f"/messages/{discussion.id}",
        {"body": "le compte rendu", "files": (io.BytesIO(PDF), "cr.pdf"), "category": "medical"},
        content_type="multipart/form-data",
    )
    assert ok.status_code == 302, html(ok)
    [entry] = Entry.objects(kind="document")
    assert Message.objects.get().attachments[0].entry == entry.id


def test_a_conversation_between_two_professionals(
    login_as,
    coordinator,
    world,  # noqa: F811
    make_user,
    structure,
):
    dossier, gp, nurse = world
    colleague = make_user(structure, profession="60", name="Infirmière Collègue")
    coord = login_as(coordinator)
    page = html(coord.get("/messages/nouvelle"))
    assert "Infirmière Collègue" in page
    made = coord.post(
        "/messages/nouvelle", {"avec": str(colleague.id), "body": "Tu as un moment ?"}
    )
    assert made.status_code == 302, html(made)
    conversation = Discussion.objects.get(kind="conversation")
    again = coord.post("/messages/nouvelle", {"avec": str(colleague.id)})
    assert again.headers["Location"].endswith(str(conversation.id))  # the 1:1 is reused
    other = login_as(colleague)
    listed = html(other.get("/messages"))
    assert "Tu as un moment" not in listed  # the list names people, not content
    assert coordinator.name in listed
    assert "Tu as un moment ?" in html(other.get(f"/messages/{conversation.id}"))
    assert login_as(gp).get(f"/messages/{conversation.id}").status_code == 404
