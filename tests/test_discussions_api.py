"""Discussions through the API: a dossier's thread (posting, paging back with `before`, new
ones with `after`), conversations (1:1 reused, groups with a title), unread counts and the
per-user counter, read state, "message" notices and their e-mails; bad input refused with the
field's pointer and nothing written; conversation files sent with the web form."""

import io
from datetime import timedelta
from types import SimpleNamespace

import pytest
from bson import ObjectId
from dossier_helpers import ELF, IDENTITY, PDF, new_dossier
from helpers import html, snapshot

from app.clock import travel
from app.discussions import services
from app.discussions.models import Discussion, Message, Participation
from app.dossiers import circle, documents, entries
from app.notifications.models import Notification, OutgoingMail, UnreadCount

# What a refused request must leave exactly as it was.
TRACKED = (
    "discussions",
    "messages",
    "discussion_participants",
    "notifications",
    "notification_unread",
    "outgoing_mails",
    "entries",
    "documents.files",
)


@pytest.fixture
def talk(app, coordinator, structure, other_structure, make_user, api_as):
    """A dossier whose circle is the coordinator and a nurse; a colleague of the coordinator
    outside it; the thread made; an API client for each."""
    dossier = new_dossier(coordinator, structure)
    nurse = make_user(other_structure, name="Infirmière Nurse")
    circle.add_member(coordinator, dossier, {"user": str(nurse.id), "care_role": "infirmier"})
    colleague = make_user(structure, name="Collègue Colleague")
    thread = services.dossier_thread(coordinator, dossier.reload())
    return SimpleNamespace(
        dossier=dossier,
        thread=thread,
        coordinator=coordinator,
        nurse=nurse,
        colleague=colleague,
        a=api_as(coordinator),
        b=api_as(nurse),
        c=api_as(colleague),
        url=f"/dossiers/{dossier.id}/messages",
    )


def unread_of(user):
    """(the counter beside the bell, the sum of the user's participations)."""
    counter = UnreadCount.objects(user=user.id).first()
    return (counter.messages if counter else 0, Participation.objects(user=user.id).sum("unread"))


def test_post_and_page_through_a_dossier_thread(talk):
    first = talk.a.post(talk.url, json={"body": "Bonjour, visite demain ?"})
    assert first.status_code == 201, first.json
    assert (first.json["seq"], first.json["author_name"], first.json["body"]) == (
        1,
        talk.coordinator.name,
        "Bonjour, visite demain ?",
    )
    for n in range(2, 36):
        author = talk.b if n % 2 else talk.a
        assert author.post(talk.url, json={"body": f"message {n}"}).status_code == 201
    latest = talk.b.get(talk.url).json
    assert [m["seq"] for m in latest["items"]] == list(range(6, 36))  # 30, oldest first
    assert latest["before"] == 6
    older = talk.b.get(f"{talk.url}?before=6").json
    assert [m["seq"] for m in older["items"]] == [1, 2, 3, 4, 5]
    assert older["before"] is None
    assert older["items"][0]["body"] == "Bonjour, visite demain ?"
    news = talk.a.get(f"{talk.url}?after=33").json
    assert [(m["seq"], m["body"]) for m in news["items"]] == [
        (34, "message 34"),
        (35, "message 35"),
    ]
    assert talk.a.get(f"{talk.url}?after=35").json["items"] == []
    by_id = talk.b.get(f"/conversations/{talk.thread.id}/messages?before=3").json
    assert [m["seq"] for m in by_id["items"]] == [1, 2]


def test_conversations_one_to_one_reused_and_groups_with_a_title(talk):
    made = talk.a.post("/conversations", json={"participants": [str(talk.colleague.id)]})
    assert made.status_code == 201, made.json
    again = talk.a.post("/conversations", json={"participants": [str(talk.colleague.id)]})
    from_the_other_side = talk.c.post(
        "/conversations", json={"participants": [str(talk.coordinator.id)]}
    )
    assert again.json["id"] == from_the_other_side.json["id"] == made.json["id"]
    group = talk.a.post(
        "/conversations",
        json={
            "participants": [str(talk.colleague.id), str(talk.nurse.id)],
            "title": "Sortie d'hospitalisation",
            "body": "On s'organise ?",
        },
    )
    assert group.status_code == 201
    assert group.json["id"] != made.json["id"]
    assert Discussion.objects(kind="conversation").count() == 2
    listed = {c["id"]: c for c in talk.b.get("/conversations").json["items"]}
    assert list(listed) == [group.json["id"]]  # not the 1:1, not the dossier's thread
    assert listed[group.json["id"]]["title"] == "Sortie d'hospitalisation"
    assert sorted(listed[group.json["id"]]["participants"]) == sorted(
        [talk.coordinator.name, talk.colleague.name]
    )
    assert listed[group.json["id"]]["unread"] == 1
    assert Message.objects.get().body == "On s'organise ?"


def test_unread_counts_follow_posts_and_reads_of_three_people(talk):
    a, b, c = talk.coordinator, talk.nurse, talk.colleague
    group = talk.a.post(
        "/conversations", json={"participants": [str(b.id), str(c.id)], "title": "Groupe"}
    ).json["id"]
    pair = talk.c.post("/conversations", json={"participants": [str(a.id)]}).json["id"]
    in_group, in_pair = f"/conversations/{group}/messages", f"/conversations/{pair}/messages"
    talk.a.post(in_group, json={"body": "un"})
    talk.a.post(in_group, json={"body": "deux"})  # b: 2, c: 2
    talk.c.post(in_pair, json={"body": "trois"})  # a: 1
    talk.b.post(talk.url, json={"body": "quatre"})  # a: 1 in the thread
    talk.a.get(talk.url)  # a reads the thread
    talk.a.post(talk.url, json={"body": "cinq"})  # b: 1 in the thread
    talk.b.get(in_group)  # b reads the group
    talk.c.get(in_group)  # c reads the group, then answers in it
    talk.c.post(in_group, json={"body": "six"})  # a: 1 in the group, b: 1 in the group

    def unread(client):
        return {i["id"]: i["unread"] for i in client.get("/conversations").json["items"]}

    assert unread(talk.a) == {group: 1, pair: 1}
    assert unread(talk.b) == {group: 1}
    assert unread(talk.c) == {group: 0, pair: 0}
    assert Participation.objects.get(user=b.id, discussion=talk.thread.id).unread == 1
    assert (unread_of(a), unread_of(b), unread_of(c)) == ((2, 2), (2, 2), (0, 0))
    talk.a.get(in_group)
    assert unread(talk.a) == {group: 0, pair: 1}
    talk.a.get(in_pair)
    talk.b.get(talk.url)
    assert (unread_of(a), unread_of(b), unread_of(c)) == ((0, 0), (1, 1), (0, 0))


def test_posting_marks_the_discussion_read_for_its_author(talk):
    talk.a.post(talk.url, json={"body": "un"})
    talk.a.post(talk.url, json={"body": "deux"})
    answer = talk.b.post(talk.url, json={"body": "trois, sans avoir lu"})
    assert answer.status_code == 201
    second = Message.objects.get(seq=2)
    assert services.readers(talk.thread, second) == [talk.nurse.name]  # read, says read state
    assert unread_of(talk.nurse) == (0, 0)


def test_read_state_names_who_read_up_to_a_message(talk):
    group = services.start_conversation(talk.coordinator, [talk.nurse.id, talk.colleague.id], "G")
    message = services.post(talk.coordinator, group, None, "Qui a lu ?")
    assert services.readers(group, message) == []
    talk.b.get(f"/conversations/{group.id}/messages")
    assert services.readers(group, message) == [talk.nurse.name]
    talk.c.get(f"/conversations/{group.id}/messages")
    assert services.readers(group, message) == [talk.colleague.name, talk.nurse.name]
    later = services.post(talk.nurse, group, None, "Moi")
    assert services.readers(group, later) == []  # its author is not a reader


def test_one_notice_until_read_and_its_email_tells_nothing(talk):
    secret = "Tension 14/9, rappeler la fille"
    assert talk.a.post(talk.url, json={"body": secret}).status_code == 201
    assert talk.a.post(talk.url, json={"body": "Et le pilulier"}).status_code == 201
    notices = Notification.objects(user=talk.nurse.id, kind="message")
    assert notices.count() == 1  # the second message before she read: no second notice
    assert Notification.objects(user=talk.coordinator.id, kind="message").count() == 0
    [notice] = notices
    assert notice.url == f"/messages/{talk.thread.id}"
    assert secret not in notice.text
    [mail] = OutgoingMail.objects(user=talk.nurse.id)
    assert mail.subject == "Un message vous attend sur Parcours"
    told = f"{mail.subject}\n{mail.text}\n{mail.html}"
    for private in (secret, "pilulier", IDENTITY["used_name"], IDENTITY["birth_name"], "Jeanne"):
        assert private not in told
    assert talk.b.get(talk.url).status_code == 200  # she reads
    assert talk.a.post(talk.url, json={"body": "Merci"}).status_code == 201
    assert notices.count() == 2
    assert OutgoingMail.objects(user=talk.nurse.id).count() == 2


def test_a_thread_notice_keeps_its_dossier(talk):
    talk.a.post(talk.url, json={"body": "Bonjour"})
    notice = Notification.objects.get(user=talk.nurse.id, kind="message")
    assert notice.dossier == talk.dossier.id


@pytest.fixture
def cited(talk, structure):
    """A document of the dossier, a note of it, a document of another dossier, the nurse's
    private document, a removed document."""
    pdf = documents.inspect(PDF, "cr.pdf")
    meta = {"category": "administratif", "visibility": "shared"}
    other = new_dossier(talk.coordinator, structure, {"used_name": "Autre"})
    removed = entries.add_document(talk.coordinator, talk.dossier, pdf, meta)
    entries.delete_entry(talk.coordinator, removed.id, {"reason": "Doublon"})
    private = {"category": "soins", "visibility": "private"}
    return SimpleNamespace(
        document=entries.add_document(talk.coordinator, talk.dossier, pdf, meta),
        note=entries.add_entry(talk.coordinator, talk.dossier, {**meta, "note": "Une note"}),
        elsewhere=entries.add_document(talk.coordinator, other, pdf, meta),
        unseen=entries.add_document(talk.nurse, talk.dossier, pdf, private),
        removed=removed,
    )


NOT_OURS, UNKNOWN_DOC = "Ce n'est pas un document de ce dossier.", "Document introuvable."
BAD_MESSAGES = [
    ("too long", {"body": "x" * 20_001}, "/body", "Saisissez au plus 20000 caractères."),
    ("empty", {"body": ""}, "/body", services.EMPTY),
    ("spaces", {"body": "  \n\t "}, "/body", services.EMPTY),
    ("missing", {}, "/body", "Ce champ est obligatoire."),
    ("extra", {"body": "ok", "urgent": True}, "/urgent", "Ce champ n'est pas attendu."),
    ("not text", {"body": 12}, "/body", "La valeur doit être un texte."),
    ("note", {"body": "ok", "documents": ["note"]}, "/documents/0", NOT_OURS),
    ("other dossier", {"body": "ok", "documents": ["elsewhere"]}, "/documents/0", NOT_OURS),
    ("unknown", {"body": "ok", "documents": [str(ObjectId())]}, "/documents/0", UNKNOWN_DOC),
    ("not an id", {"body": "ok", "documents": ["../../etc"]}, "/documents/0", UNKNOWN_DOC),
    ("unseen", {"body": "ok", "documents": ["document", "unseen"]}, "/documents/1", UNKNOWN_DOC),
    ("removed", {"body": "ok", "documents": ["removed"]}, "/documents/0", UNKNOWN_DOC),
]


@pytest.mark.parametrize(("label", "body", "pointer", "message"), BAD_MESSAGES,
                         ids=[b[0] for b in BAD_MESSAGES])  # fmt: skip
def test_a_bad_message_is_refused_with_its_field_and_nothing_written(
    talk, cited, label, body, pointer, message
):
    if "documents" in body:  # the fixture's entries, by name
        named = {name: getattr(cited, name).id for name in vars(cited)}
        body = {**body, "documents": [str(named.get(d, d)) for d in body["documents"]]}
    before = snapshot(TRACKED)
    refused = talk.a.post(talk.url, json=body)
    assert refused.status_code == 422, refused.json
    error = refused.json["error"]
    assert error["code"] == "invalid"
    assert error["fields"] == {pointer: message}
    assert snapshot(TRACKED) == before


def test_the_longest_body_and_a_cited_document_are_accepted(talk, cited):
    longest = talk.a.post(talk.url, json={"body": "é" * 20_000})
    assert longest.status_code == 201
    assert len(Message.objects.get(seq=1).body) == 20_000
    with_doc = talk.a.post(talk.url, json={"body": "Le CR", "documents": [str(cited.document.id)]})
    assert with_doc.status_code == 201
    [attached] = with_doc.json["attachments"]
    assert (attached["entry"], attached["filename"]) == (str(cited.document.id), "cr.pdf")
    conversation = services.start_conversation(talk.coordinator, [talk.nurse.id])
    refused = talk.a.post(
        f"/conversations/{conversation.id}/messages",
        json={"body": "Le CR", "documents": [str(cited.document.id)]},
    )
    assert (refused.status_code, list(refused.json["error"]["fields"])) == (422, ["/documents"])


def test_a_document_the_reader_may_not_open_is_not_named(talk, cited, login_as):
    """The nurse cites her private document beside a shared one: the coordinator, who may not
    open it, reads that a document is attached, never its name, entry or size (API, page and
    its poller); the nurse sees both."""
    secret = entries.add_document(
        talk.nurse, talk.dossier, documents.inspect(PDF + b"%" * 3000, "serologie-vih.pdf"),
        {"category": "soins", "visibility": "private"},
    )  # fmt: skip
    cites = [str(secret.id), str(cited.document.id)]
    assert talk.b.post(talk.url, json={"body": "CR", "documents": cites}).status_code == 201
    hidden = {"entry": None, "file": None, "filename": None, "content_type": None,
              "size": None, "restricted": True}  # fmt: skip
    for url in (talk.url, f"/conversations/{talk.thread.id}/messages"):
        answer = talk.a.get(url)
        [message] = answer.json["items"]
        assert message["attachments"][0] == hidden, url
        assert message["attachments"][1]["filename"] == "cr.pdf"
        assert str(secret.id) not in answer.get_data(as_text=True)
        assert "serologie" not in answer.get_data(as_text=True)
    [mine] = talk.b.get(talk.url).json["items"]
    assert [a["filename"] for a in mine["attachments"]] == ["serologie-vih.pdf", "cr.pdf"]
    web = login_as(talk.coordinator)
    for url in (f"/dossiers/{talk.dossier.id}/discussion", f"/messages/{talk.thread.id}/suite"):
        page = html(web.get(url))
        assert "Document réservé aux professionnels habilités" in page, url
        assert "serologie" not in page
        assert str(secret.id) not in page
        assert "3 Kio" not in page  # its size neither
        assert "cr.pdf" in page


def test_markup_is_stored_and_returned_as_typed_and_escaped_on_the_page(talk, login_as):
    typed = "<script>alert(1)</script> <img src=x onerror=alert(2)> & co"
    sent = talk.a.post(talk.url, json={"body": typed})
    assert sent.json["body"] == typed
    assert Message.objects.get().body == typed
    assert talk.b.get(talk.url).json["items"][0]["body"] == typed
    page = html(login_as(talk.nurse).get(f"/dossiers/{talk.dossier.id}/discussion"))
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=alert(2)&gt; &amp; co" in page
    )
    assert "<script>alert(1)" not in page
    assert "<img src=x" not in page


def test_bad_conversations_are_refused_and_nothing_written(talk, make_user, structure):
    def refused(data):
        before = snapshot(TRACKED)
        answer = talk.a.post("/conversations", json=data)
        assert answer.status_code == 422, answer.json
        assert snapshot(TRACKED) == before
        return answer.json["error"]["fields"]

    unknown = str(ObjectId())
    assert refused({"participants": [unknown]}) == {
        "/participants": f"Comptes inconnus ou inactifs : {unknown}."
    }
    assert refused({"participants": [str(talk.coordinator.id)]}) == {
        "/participants": "Choisissez quelqu'un d'autre que vous."
    }
    assert refused({"participants": []}) == {"/participants": "Choisissez au moins un élément."}
    assert refused({"title": "Sans personne"}) == {"/participants": "Ce champ est obligatoire."}
    nurse = [str(talk.nurse.id)]
    assert refused({"participants": nurse, "title": "x" * 201}) == {
        "/title": "Saisissez au plus 200 caractères."
    }
    many = [str(make_user(structure).id) for _ in range(51)]
    assert refused({"participants": many}) == {"/participants": "Au plus 50 éléments."}
    assert talk.a.post("/conversations", json={"participants": many[:50]}).status_code == 201
    titled = talk.a.post("/conversations", json={"participants": nurse, "title": "y" * 200})
    assert titled.status_code == 201
    assert Discussion.objects.get(id=titled.json["id"]).title == "y" * 200


def test_posting_where_one_is_not_answers_404(talk, api_as, make_user, other_structure):
    conversation = services.start_conversation(talk.coordinator, [talk.nurse.id])
    stranger = api_as(make_user(other_structure))
    before = snapshot(TRACKED)
    for client, url in (
        (talk.c, f"/conversations/{conversation.id}/messages"),  # not one of its two
        (talk.c, talk.url),  # a colleague of the coordinator, not in the circle
        (stranger, talk.url),
        (stranger, f"/conversations/{talk.thread.id}/messages"),
        (talk.a, f"/conversations/{ObjectId()}/messages"),  # no such conversation
        (talk.a, "/conversations/pas-un-id/messages"),
    ):
        answer = client.post(url, json={"body": "Bonjour"})
        assert (answer.status_code, answer.json["error"]["code"]) == (404, "not_found"), url
        assert client.get(url).status_code == 404
    assert snapshot(TRACKED) == before


def test_a_conversation_file_is_for_its_participants_only(talk, login_as):
    conversation = services.start_conversation(talk.coordinator, [talk.nurse.id])
    coord = login_as(talk.coordinator)
    sent = coord.post(
        f"/messages/{conversation.id}",
        {"body": "Le compte rendu", "files": (io.BytesIO(PDF), "compte rendu.pdf")},
        content_type="multipart/form-data",
    )
    assert sent.status_code == 302, html(sent)
    [attachment] = Message.objects.get().attachments
    assert (attachment.filename, attachment.entry) == ("compte rendu.pdf", None)
    url = f"/messages/{conversation.id}/fichiers/{attachment.file}"
    nurse = login_as(talk.nurse)
    assert url in html(nurse.get(f"/messages/{conversation.id}"))
    got = nurse.get(url)
    assert (got.status_code, got.data, got.mimetype) == (200, PDF, "application/pdf")
    assert got.headers["Content-Disposition"].startswith("attachment")
    assert login_as(talk.colleague).get(url).status_code == 404  # not a participant
    assert coord.get(f"/messages/{conversation.id}/fichiers/{ObjectId()}").status_code == 404
    # The thread's id with the file: the file belongs to the conversation only.
    assert coord.get(f"/messages/{talk.thread.id}/fichiers/{attachment.file}").status_code == 404
    before = snapshot(TRACKED)
    refused = coord.post(
        f"/messages/{conversation.id}",
        {"body": "Et ceci", "files": (io.BytesIO(ELF), "outil.pdf")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 400
    assert documents.REFUSED_TYPE.replace("'", "&#39;") in html(refused)
    assert snapshot(TRACKED) == before


def test_my_conversations_come_latest_activity_first_however_old(talk, make_user, structure):
    """The list reads windows of time back from now: a conversation quiet for two years is
    still listed, after the recent ones; a new one without a message comes first."""
    people = [make_user(structure, name=f"Collègue {n}") for n in range(4)]
    made = {}
    for days, person in zip((-700, -200, -20), people[:3], strict=True):
        with travel(timedelta(days=days)):
            made[days] = talk.a.post(
                "/conversations", json={"participants": [str(person.id)], "body": "Bonjour"}
            ).json["id"]
    # The oldest speaks again yesterday; a new conversation gets no message at all.
    with travel(timedelta(days=-1)):
        again = talk.a.post(f"/conversations/{made[-700]}/messages", json={"body": "Et alors ?"})
        assert again.status_code == 201, again.json
    made["new"] = talk.a.post("/conversations", json={"participants": [str(people[3].id)]}).json[
        "id"
    ]
    listed = [c["id"] for c in talk.a.get("/conversations").json["items"]]
    assert listed == [made["new"], made[-700], made[-20], made[-200]]
    newest = talk.a.get("/conversations").json["items"][0]
    assert newest["last_message_at"] is None  # no message yet: no date shown
    # At most `limit` of them: the latest.
    assert [d.id for _, d, _, _ in services.mine(talk.coordinator, limit=2)] == [
        ObjectId(made["new"]),
        ObjectId(made[-700]),
    ]


def test_citing_five_documents_costs_the_round_trips_of_one(talk, cited, db_commands):
    pdf = documents.inspect(PDF, "cr.pdf")
    meta = {"category": "administratif", "visibility": "shared"}
    five = [cited.document.id] + [
        entries.add_document(talk.coordinator, talk.dossier, pdf, meta).id for _ in range(4)
    ]
    talk.a.post(talk.url, json={"body": "Bonjour"})  # the thread's first message does more
    trips = []
    for cited_ids in ([five[0]], five):
        db_commands.reset()
        posted = talk.a.post(
            talk.url, json={"body": "CR", "documents": [str(i) for i in cited_ids]}
        )
        assert len(posted.json["attachments"]) == len(cited_ids)
        trips.append(db_commands.count)
    assert trips[0] == trips[1]
