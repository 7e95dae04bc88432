"""Notifications by e-mail through a real SMTP server on loopback (aiosmtpd): the exact
e-mails of each event and preference, no patient data in any of them, the signed unsubscribe
link, the digest, retries when the server is down (no loss, no duplicate), failures listed
for the platform admin, two workers that never send one e-mail twice."""

import asyncio
import email
import os
import re
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from email import policy as email_policy

import pytest
from aiosmtpd.controller import Controller
from dossier_helpers import new_dossier
from helpers import html, run_at_once
from test_pathway_worker import waiting_visits  # noqa: F401

from app import clock, policy, signals
from app.dossiers import circle
from app.embedded import free_port
from app.notifications import digest, listeners, services
from app.notifications.delivery import deliver_due, retry_delay
from app.notifications.kinds import KINDS
from app.notifications.models import Notification, NotificationPreference, OutgoingMail
from app.notifications.worker import run_round

BASE = "http://parcours.example.fr"  # http: the test client keeps its cookies
SENDER = "ne-pas-repondre@parcours.example.fr"
PATIENT = ("Zébulonnet", "Anatolia")  # names no e-mail may contain


class Inbox:
    """What the SMTP server received: one entry per message, the raw bytes kept."""

    def __init__(self):
        self.received, self.refuse, self.delay = [], set(), 0  # delay: a slow server's seconds

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refuse:
            return "550 5.1.1 Adresse inconnue"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        await asyncio.sleep(self.delay)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    def messages(self):
        return [email.message_from_bytes(raw, policy=email_policy.default) for *_, raw in
                self.received]  # fmt: skip

    def raw(self):
        return b"".join(raw for *_, raw in self.received)


class SmtpServer:
    """A real SMTP server on loopback that tests stop and start again on the same port."""

    def __init__(self):
        self.port, self.inbox, self.controller = free_port(), Inbox(), None

    def start(self):
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def app_config(app_config, smtp):
    return {
        **app_config,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": smtp.port,
        "MAIL_FROM": SENDER,
        "BASE_URL": BASE,
        "MAIL_MAX_ATTEMPTS": 3,
    }


def texts(message):
    """The decoded text and HTML parts of a message."""
    return [part.get_content() for part in message.walk() if part.get_content_maintype() == "text"]


def body(message):
    """The plain-text part, with the line ends of a file (the wire's are CRLF)."""
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def deliver(now=None):
    return deliver_due(now or clock.utcnow(), owner="test")


def link_in(text, path):
    match = re.search(rf"{re.escape(BASE)}{path}\S*", text)
    assert match, text
    return match.group(0)


# --- one e-mail, exactly ---------------------------------------------------------------------


EXPECTED_NOTICE = """Bonjour,

Une tâche vous a été confiée sur Parcours.

Pour en savoir plus, ouvrez ce lien et connectez-vous :
{link}

Par sécurité, ce message ne contient aucune information sur les personnes accompagnées : \
connectez-vous à Parcours pour les consulter.

{signature}
Parcours, plateforme de coordination des parcours : {base}/
Choisir les notifications que vous recevez : {base}/notifications/preferences
Ne plus rien recevoir par e-mail : {base}/notifications/desabonnement/{token}
"""


def test_a_task_assigned_sends_exactly_this_email(smtp, coordinator, professional):
    dossier = new_dossier(coordinator, coordinator_structure(coordinator))
    task = open_task(dossier, professional)
    [notice] = listeners.task_created(task, dossier)
    assert deliver() == 1
    [(sender, recipients, _)] = smtp.inbox.received
    assert (sender, recipients) == (SENDER, [professional.email])
    [message] = smtp.inbox.messages()
    assert message["Subject"] == "Une tâche vous attend sur Parcours"
    assert message["From"] == SENDER
    assert message["To"] == professional.email
    assert message["Auto-Submitted"] == "auto-generated"
    token = services.mail.unsubscribe_token(professional)
    assert message["List-Unsubscribe"] == f"<{BASE}/notifications/desabonnement/{token}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert body(message) == EXPECTED_NOTICE.format(
        link=f"{BASE}/notifications/{notice.id}", base=BASE, token=token, signature="-- "
    )
    page = message.get_body(("html",)).get_content()
    assert f'href="{BASE}/notifications/{notice.id}"' in page
    assert "Une tâche vous a été confiée sur Parcours." in page
    mail = OutgoingMail.objects.get()
    assert (mail.status, mail.attempts, mail.text, mail.html) == ("sent", 1, None, None)
    assert deliver() == 0  # sent once


def coordinator_structure(coordinator):
    from app.structures.models import Structure

    return Structure.objects.get(id=coordinator.memberships[0].structure)


def open_task(dossier, assignee=None, **fields):
    """A Task as a pathway step would make it (without running an engine); its assignee
    joins the circle (quietly), as routing or a claim would have made them."""
    from app.dossiers.models import CareMember, Dossier
    from app.pathways.models import Task

    if assignee is not None and dossier.member_for(assignee.id) is None:
        member = CareMember(user=assignee.id, name=assignee.name, care_role="infirmier")
        Dossier.objects(id=dossier.id).update_one(
            push__members=member, add_to_set__member_users=assignee.id
        )
        dossier.reload()
    task = Task(
        instance=dossier.id,  # any id: the task is what the notices read
        dossier=dossier.id,
        engine_id=str(fields.pop("engine_id", "e1")),
        spec="evaluation",
        title=fields.pop("title", "Évaluation multidimensionnelle"),
        form_key="evaluation_multidimensionnelle",
        care_role="infirmier",
        assignee=assignee.id if assignee else None,
        **fields,
    )
    task.save()
    return task


# --- every event: its subject and sentence, never the patient --------------------------------

SUBJECTS = {
    "task_assigned": ("Une tâche vous attend sur Parcours", "Une tâche vous a été confiée"),
    "task_available": ("Une tâche est à prendre sur Parcours", "Une tâche proposée à votre"),
    "task_overdue": ("Une tâche est en retard sur Parcours", "a dépassé son échéance"),
    "reminder": ("Une relance vous attend sur Parcours", "vous adresse une relance"),
    "escalation": ("Une alerte vous attend sur Parcours", "demande votre attention"),
    "circle_added": ("Vous avez rejoint un cercle de soins sur Parcours", "ajouté(e) au cercle"),
    "join_request": ("Une demande attend votre décision sur Parcours", "demande à rejoindre"),
    "consent_withdrawn": ("Un consentement a été retiré sur Parcours", "consentement au partage"),
    "account": ("Votre compte Parcours", "Une décision a été prise sur votre compte"),
}


@pytest.fixture
def events(coordinator, structure, make_user, platform_admin):
    """Every kind of notice, for real: returns {kind: the person told}, with the patient's
    name and a form's content in the dossier."""
    from app.pathways.models import Task

    gp = make_user(structure, profession="10", name="Dr Généraliste")
    nurse = make_user(structure, profession="60", name="Infirmière Candidate")
    asker = make_user(structure, profession="21", name="Pharmacien Demandeur")
    dossier = new_dossier(
        coordinator, structure, identity={"birth_name": PATIENT[0], "first_names": PATIENT[1]},
        living_notes="Isolement, chutes répétées",
    )  # fmt: skip
    everything_now = {"kinds": dict.fromkeys(KINDS, "immediate")}
    for person in (coordinator, gp, nurse, asker):
        services.update_preferences(person, everything_now)
    told = {}
    circle.add_member(coordinator, dossier, {"user": str(gp.id), "care_role": "medecin_traitant"})
    told["circle_added"] = gp
    assigned = open_task(dossier, gp, engine_id="a")
    listeners.task_created(assigned, dossier)
    told["task_assigned"] = gp
    offered = open_task(dossier, None, engine_id="b", candidates_structure=structure.id,
                        candidate_professions=["60"])  # fmt: skip
    listeners.task_created(offered, dossier)
    told["task_available"] = nurse
    Task.objects(id=assigned.id).update_one(set__due_at=clock.utcnow() - timedelta(hours=1))
    from app.notifications.worker import notify_overdue

    assert notify_overdue() == 1
    told["task_overdue"] = gp
    instance = type("Instance", (), {"id": dossier.id, "name": "Suivi", "pathway": "suivi"})
    secret = {"role": "medecin_traitant", "title": f"{PATIENT[0]} GIR 2", "gir": 2}
    call = {"element": "relance", "name": "Relancer le médecin", "operator": "notify",
            "params": secret, "result": None}  # fmt: skip
    signals.service_called.send(instance, dossier=dossier, call=call)
    told["reminder"] = gp
    escalate = {**call, "params": {"role": "coordinateur", "message": PATIENT[1]}}
    signals.service_called.send(instance, dossier=dossier, call=escalate)
    told["escalation"] = coordinator
    circle.request_join(asker, dossier, {"care_role": "pharmacien", "message": PATIENT[0]})
    told["join_request"] = coordinator
    # On another dossier: a withdrawal suspends the dossier's tasks, whose e-mails then stay.
    other = new_dossier(coordinator, structure, identity={"birth_name": PATIENT[0]})
    circle.add_member(coordinator, other, {"user": str(gp.id), "care_role": "medecin_traitant"})
    circle.withdraw_consent(gp, other, {"date": clock.today(), "reason": PATIENT[1]})
    told["consent_withdrawn"] = coordinator
    signals.account_decided.send(platform_admin, user=asker, decision="verified")
    told["account"] = asker
    return told


def test_every_event_sends_its_email_and_none_names_the_patient(smtp, events):
    assert deliver() == len(smtp.inbox.received) > 0
    sent = {}
    for (_, [recipient], _), message in zip(smtp.inbox.received, smtp.inbox.messages(),
                                            strict=True):  # fmt: skip
        sent.setdefault(recipient, []).append(message)
    kinds_sent = set()
    for kind, person in events.items():
        subject, sentence = SUBJECTS[kind]
        mine = [m for m in sent.get(person.email, []) if m["Subject"] == subject]
        assert mine, (kind, [m["Subject"] for m in sent.get(person.email, [])])
        assert sentence in body(mine[0])
        kinds_sent.add(kind)
    assert kinds_sent == set(SUBJECTS)
    # No patient name, no form or free text content, in the bytes sent nor once decoded.
    raw = smtp.inbox.raw()
    decoded = " ".join(" ".join(texts(m)) + " " + m["Subject"] for m in smtp.inbox.messages())
    for secret in (*PATIENT, "Isolement", "chutes", "GIR"):
        assert secret.encode() not in raw
        assert secret not in decoded
        assert secret.lower() not in decoded.lower()


def test_the_in_app_texts_name_no_patient_either(events):
    for notice in Notification.objects:
        for secret in (*PATIENT, "Isolement", "GIR"):
            assert secret not in notice.text


# --- preferences ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "in_app", "emails_now"),
    [("immediate", True, 1), ("app", True, 0), ("digest", True, 0), ("off", False, 0)],
)
def test_each_preference(smtp, coordinator, structure, professional, channel, in_app, emails_now):
    services.update_preferences(professional, {"kinds": {"task_assigned": channel}})
    dossier = new_dossier(coordinator, structure)
    listeners.task_created(open_task(dossier, professional), dossier)
    assert Notification.objects(user=professional.id).count() == int(in_app)
    assert deliver() == emails_now == len(smtp.inbox.received)
    at_eight = datetime.now(UTC).replace(hour=7, minute=0) + timedelta(days=1)  # 8 or 9 in Paris
    assert digest.send_digests(at_eight) == int(channel == "digest")
    assert deliver(at_eight) == int(channel == "digest")


def test_the_daily_digest(smtp, coordinator, structure, professional):
    services.update_preferences(
        professional, {"kinds": {"task_assigned": "digest", "task_available": "digest"}}
    )
    dossier = new_dossier(coordinator, structure)
    for n in range(3):
        listeners.task_created(open_task(dossier, professional, engine_id=n), dossier)
    offered = open_task(dossier, None, engine_id="x", candidates_structure=structure.id,
                        candidate_professions=["60"])  # fmt: skip
    listeners.task_created(offered, dossier)
    read = Notification.objects(user=professional.id, kind="task_assigned").first()
    services.mark_read(professional, read.id)  # read in the app: not in the digest
    paris = clock.PARIS
    early = datetime(2031, 3, 4, 6, 30, tzinfo=paris)
    assert digest.send_digests(early) == 0  # before 7:00 in France
    morning = datetime(2031, 3, 4, 7, 5, tzinfo=paris)
    assert digest.send_digests(morning) == 1
    assert digest.send_digests(morning + timedelta(hours=2)) == 0  # one a day
    assert deliver(morning) == 1
    [message] = smtp.inbox.messages()
    assert message["Subject"] == "Votre résumé quotidien Parcours"
    assert body(message).startswith(
        "Bonjour,\n\nVoici ce qui vous attend sur Parcours :\n"
        "- 2 tâches confiées\n- 1 tâche à prendre\n\n"
        f"Pour les consulter, ouvrez ce lien et connectez-vous :\n{BASE}/notifications\n"
    )
    states = sorted(n.mail for n in Notification.objects(user=professional.id))
    assert states == ["digested", "digested", "digested", "skipped"]
    # A notice later that day waits for the next morning's digest.
    listeners.task_created(open_task(dossier, professional, engine_id="late"), dossier)
    assert digest.send_digests(morning + timedelta(hours=5)) == 0
    assert digest.send_digests(morning + timedelta(days=1)) == 1
    assert deliver(morning + timedelta(days=1)) == 1
    assert "- 1 tâche confiée\n" in body(smtp.inbox.messages()[-1])
    assert NotificationPreference.objects.get(user=professional.id).last_digest == "2031-03-05"


def test_two_workers_queue_one_digest(coordinator, structure, professional, app):
    services.update_preferences(professional, {"kinds": {"task_assigned": "digest"}})
    dossier = new_dossier(coordinator, structure)
    listeners.task_created(open_task(dossier, professional), dossier)
    morning = datetime(2031, 3, 4, 8, 0, tzinfo=clock.PARIS)
    counts = []

    def work(name):
        with app.app_context():
            counts.append(digest.send_digests(morning))

    assert run_at_once(work) == []
    assert sorted(counts) == [0, 1]
    assert OutgoingMail.objects.count() == 1


# --- the signed link that stops e-mails ------------------------------------------------------


def test_the_unsubscribe_link_stops_that_persons_emails_only(
    smtp, client, coordinator, structure, professional, make_user
):
    other = make_user(structure)
    dossier = new_dossier(coordinator, structure)
    for n, person in enumerate((professional, other)):
        listeners.task_created(open_task(dossier, person, engine_id=n), dossier)
    assert deliver() == 2
    mine = next(m for m in smtp.inbox.messages() if m["To"] == professional.email)
    link = link_in(body(mine), "/notifications/desabonnement/")
    path = link.removeprefix(BASE)
    page = client.get(path)  # not signed in
    assert page.status_code == 200
    assert "Ne plus rien recevoir par e-mail" in html(page)
    assert services.get_preferences(professional).email_off is False  # a GET changes nothing
    done = client.post(path)  # no CSRF token: the signature is the proof (RFC 8058 too)
    assert done.status_code == 200
    assert "C'est fait" in html(done)
    assert services.get_preferences(professional).email_off is True
    assert services.get_preferences(other).email_off is False
    for n, person in enumerate((professional, other), start=2):
        listeners.task_created(open_task(dossier, person, engine_id=n), dossier)
    assert deliver() == 1
    assert smtp.inbox.messages()[-1]["To"] == other.email
    # Still told in the app.
    assert Notification.objects(user=professional.id).count() == 2


@pytest.mark.parametrize("forge", ["tamper", "other_key", "garbage", "unknown_user"])
def test_a_forged_unsubscribe_link_is_refused(client, professional, app, forge):
    from bson import ObjectId
    from itsdangerous import URLSafeSerializer

    token = services.mail.unsubscribe_token(professional)
    forged = {
        "tamper": token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        "other_key": URLSafeSerializer("another-key", salt=services.mail.UNSUBSCRIBE_SALT).dumps(
            str(professional.id)
        ),
        "garbage": "nimporte-quoi",
        "unknown_user": URLSafeSerializer(
            app.config["SECRET_KEY"], salt=services.mail.UNSUBSCRIBE_SALT
        ).dumps(str(ObjectId())),
    }[forge]
    for method in ("get", "post"):
        answer = getattr(client, method)(f"/notifications/desabonnement/{forged}")
        assert answer.status_code == 404
    assert services.get_preferences(professional).email_off is False


def test_stopping_emails_cancels_those_queued(smtp, coordinator, structure, professional):
    dossier = new_dossier(coordinator, structure)
    listeners.task_created(open_task(dossier, professional), dossier)
    services.stop_emails(professional)
    assert OutgoingMail.objects.get().status == "cancelled"
    assert deliver() == 0
    assert smtp.inbox.received == []


# --- delivery: retries, failures, leases ---------------------------------------------------


def queue(coordinator, structure, people):
    dossier = new_dossier(coordinator, structure)
    for n, person in enumerate(people):
        listeners.task_created(open_task(dossier, person, engine_id=n), dossier)
    return OutgoingMail.objects.count()


def test_the_server_down_then_back_loses_nothing_and_sends_nothing_twice(
    smtp, coordinator, structure, make_user
):
    people = [make_user(structure) for _ in range(3)]
    assert queue(coordinator, structure, people) == 3
    smtp.stop()
    now = clock.utcnow()
    assert deliver(now) == 0  # the round stops at the first mail: the others keep their tries
    assert sorted(OutgoingMail.objects.scalar("attempts")) == [0, 0, 1]
    assert set(OutgoingMail.objects.scalar("status")) == {"pending"}
    tried = OutgoingMail.objects.get(attempts=1)
    waited = tried.next_attempt_at - now  # MongoDB keeps milliseconds
    assert timedelta(seconds=59.99) < waited <= timedelta(minutes=1)
    assert "ConnectionRefused" in tried.last_error or "ServerUnavailable" in tried.last_error
    smtp.start()
    assert deliver(now) == 2  # the two others; the first waits for its next try
    assert deliver(now + timedelta(seconds=30)) == 0
    assert deliver(now + timedelta(minutes=1)) == 1
    assert deliver(now + timedelta(hours=1)) == 0
    recipients = sorted(r for _, [r], _ in smtp.inbox.received)
    assert recipients == sorted(p.email for p in people)
    ids = [m["Message-ID"] for m in smtp.inbox.messages()]
    assert len(set(ids)) == 3
    assert set(OutgoingMail.objects.scalar("status")) == {"sent"}


def test_the_back_off_grows_four_times_up_to_six_hours():
    delays = [retry_delay(n, 60) for n in range(1, 8)]
    assert [d.total_seconds() / 60 for d in delays] == [1, 4, 16, 64, 256, 360, 360]


def test_after_the_last_try_the_mail_is_failed_and_shown_to_the_admin(
    smtp, coordinator, structure, professional, platform_admin, login_as
):
    queue(coordinator, structure, [professional])
    smtp.stop()
    now = clock.utcnow()
    for minutes in (0, 1, 5):  # MAIL_MAX_ATTEMPTS = 3: 1 min, then 4 min
        assert deliver(now + timedelta(minutes=minutes)) == 0
    mail = OutgoingMail.objects.get()
    assert (mail.status, mail.attempts) == ("failed", 3)
    assert deliver(now + timedelta(days=1)) == 0  # given up
    admin = login_as(platform_admin)
    page = admin.get("/admin/e-mails")
    assert page.status_code == 200
    assert professional.email in html(page)
    assert "3 essai(s)" in html(page)
    assert login_as(professional).get("/admin/e-mails").status_code == 403
    assert login_as(professional).post(f"/admin/e-mails/{mail.id}/renvoyer").status_code == 403
    smtp.start()
    assert admin.post(f"/admin/e-mails/{mail.id}/renvoyer").status_code == 302
    assert deliver(clock.utcnow() + timedelta(seconds=1)) == 1
    assert [r for _, [r], _ in smtp.inbox.received] == [professional.email]


def test_an_address_refused_for_good_fails_at_once(smtp, coordinator, structure, make_user):
    people = [make_user(structure), make_user(structure)]
    smtp.inbox.refuse.add(people[0].email)
    queue(coordinator, structure, people)
    assert deliver() == 1
    refused = OutgoingMail.objects.get(to=people[0].email)
    assert (refused.status, refused.attempts) == ("failed", 1)
    assert "550" in refused.last_error


def test_two_workers_never_send_the_same_mail_twice(smtp, coordinator, structure, make_user, app):
    people = [make_user(structure) for _ in range(12)]
    queue(coordinator, structure, people)
    sent = []

    def work(name):
        with app.app_context():
            sent.append(deliver_due(clock.utcnow(), owner=name))

    assert run_at_once(work) == []
    assert sum(sent) == 12
    recipients = [r for _, [r], _ in smtp.inbox.received]
    assert sorted(recipients) == sorted(p.email for p in people)  # each one, once


def test_a_mail_another_worker_sent_meanwhile_is_not_taken_again(
    smtp, coordinator, structure, professional, app, monkeypatch
):
    """Worker A reads the due mails; before it takes one, worker B leases it, sends it and
    lets it go (its lease unset again, its status "sent"): A must not send it again."""
    queue(coordinator, structure, [professional])
    mails = OutgoingMail._get_collection()
    read = mails.find

    def read_then_b_sends(*args, **kwargs):
        rows = list(read(*args, **kwargs))
        monkeypatch.setattr(mails, "find", read)  # B reads normally
        with app.app_context():
            assert deliver_due(clock.utcnow(), owner="B") == 1
        return rows

    monkeypatch.setattr(mails, "find", read_then_b_sends)
    assert deliver_due(clock.utcnow(), owner="A") == 0
    assert len(smtp.inbox.received) == 1
    assert OutgoingMail.objects.get().status == "sent"


def test_a_round_reads_its_queue_in_batches(smtp, app, db_commands):
    """The embedded server reads every due document at each read, whatever the limit: a round
    of 250 due mails reads them 100 at a time (3 reads and the empty one), not once a mail,
    and a shared second never skips any (250 mails, 7 due times)."""
    queue_many(250)
    db_commands.reset()
    assert deliver() == 250
    finds = [t for t in db_commands.targets if t == "find outgoing_mails"]
    reads = len(finds) - 250  # each take reads its mail once, by id
    assert reads <= 2 * 250 // 100 + 4  # the batches (two queries past the first): 751 before
    assert OutgoingMail.objects(status="sent").count() == 250


def queue_many(count):
    """`count` e-mails due now, inserted at once (as many notices would have queued them)."""
    now = clock.utcnow()
    OutgoingMail._get_collection().insert_many(
        [
            {
                "key": f"k{n}",
                "to": f"p{n}@example.org",
                "subject": "Parcours",
                "text": "-",
                "message_id": f"<{n}@parcours>",
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now - timedelta(seconds=n % 7),
            }
            for n in range(count)
        ]
    )


def test_a_long_queue_takes_only_its_share_of_a_round(smtp, app, monkeypatch):
    """2,000 e-mails queued: a round sends for WORKER_QUEUE_SECONDS, then lets the worker go
    back to its timers; the rest waits for the next round, nothing lost, nothing twice."""
    queue_many(2000)
    app.config["WORKER_QUEUE_SECONDS"] = 1
    started = time.monotonic()
    first = deliver()
    assert time.monotonic() - started < 4
    assert 0 < first < 2000
    assert OutgoingMail.objects(status="pending").count() == 2000 - first
    app.config["WORKER_QUEUE_SECONDS"] = 600
    assert deliver() == 2000 - first
    recipients = [r for _, [r], _ in smtp.inbox.received]
    assert len(recipients) == len(set(recipients)) == 2000  # each one, once


# With the defaults a round starts every 30 s (`--interval`), or at once after one that overran
# it, and each queue (e-mails, webhooks, MSSanté) takes at most WORKER_QUEUE_SECONDS (10 s) of
# it: a round lasts at most about 30 s, so a timer due just after a round's timers were fired
# waits at most about 30 s, within the minute the issue asks for. The test scales every
# duration down 15 times: rounds every 2 s, 0.66 s for the e-mails, and the minute is 4 s.
SCALE = 15
QUEUED = r"p\d+@example\.org"  # the addresses of queue_many's e-mails


def test_a_timer_fires_within_a_minute_whatever_the_queue_holds(smtp, app, runner, waiting_visits):  # noqa: F811
    """Issue 19: 2,000 e-mails queued on a slow SMTP server (20 ms an e-mail: longer to send
    than the test runs) while a pathway's timer becomes due. The real worker loop (`parcours
    worker`) fires it within the scaled minute, while e-mails are still waiting."""
    from app.cli import cli
    from app.pathways.models import PathwayInstance, PathwayStep

    [instance_id] = waiting_visits(1)
    queue_many(2000)
    smtp.inbox.delay = 0.02
    app.config["WORKER_QUEUE_SECONDS"] = 10 / SCALE
    due = PathwayInstance.objects.get(id=instance_id).next_timer_at.replace(tzinfo=UTC)

    def stop_once_fired():  # as an operator would: SIGTERM ends the loop between two rounds
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not PathwayStep.objects(spec="rappel").count():
            time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGTERM)

    previous = signal.getsignal(signal.SIGTERM)
    # The timer becomes due 3 s into the run, while the worker drains the queue.
    with clock.travel(due - clock.utcnow() - timedelta(seconds=3)):
        stopper = threading.Thread(target=stop_once_fired)
        stopper.start()
        try:
            result = runner.invoke(cli, ["worker", "--interval", str(30 / SCALE)])
        finally:
            stopper.join()
            signal.signal(signal.SIGTERM, previous)
    assert result.exit_code == 0, result.output
    step = PathwayStep.objects.get(spec="rappel")
    late = step.at.replace(tzinfo=UTC) - due
    assert timedelta(0) <= late <= timedelta(seconds=60 / SCALE), late
    # E-mails of the queue went out meanwhile, each round taking its share, and most still
    # wait (the notices of the pathway itself were sent too).
    queued = [m.to for m in OutgoingMail.objects(status="pending") if re.fullmatch(QUEUED, m.to)]
    sent = [r for _, [r], _ in smtp.inbox.received if re.fullmatch(QUEUED, r)]
    assert 0 < len(queued) < 2000
    assert len(sent) == len(set(sent)) == 2000 - len(queued)


def test_a_lease_of_a_dead_worker_expires(smtp, coordinator, structure, professional):
    queue(coordinator, structure, [professional])
    OutgoingMail.objects.update(set__lease_owner="dead", set__lease_until=clock.utcnow()
                                + timedelta(minutes=2))  # fmt: skip
    assert deliver() == 0
    with clock.travel(timedelta(minutes=3)):
        assert deliver() == 1


def test_a_notice_of_a_task_done_meanwhile_is_not_sent(smtp, coordinator, structure, professional):
    from app.pathways.models import Task

    queue(coordinator, structure, [professional])
    Task.objects.update(set__status="completed")
    assert deliver() == 0
    assert OutgoingMail.objects.get().status == "dropped"


def test_without_smtp_host_mails_wait(app, coordinator, structure, professional):
    queue(coordinator, structure, [professional])
    app.config["SMTP_HOST"] = ""
    assert deliver() == 0
    assert OutgoingMail.objects.get().status == "pending"


def test_the_worker_command_sends_the_mails(smtp, runner, coordinator, structure, professional):
    from app.cli import cli

    queue(coordinator, structure, [professional])
    result = runner.invoke(cli, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "1 e-mail(s) sent" in result.output
    assert len(smtp.inbox.received) == 1


def test_a_round_tells_late_tasks_once(smtp, coordinator, structure, professional):
    from app.pathways.models import Task

    dossier = new_dossier(coordinator, structure)
    task = open_task(dossier, professional, due_at=clock.utcnow() + timedelta(days=2))
    assert run_round() == {"overdue": 0, "digests": 0, "sent": 0, "forgotten": 0}
    later = clock.utcnow() + timedelta(days=3)
    assert run_round(later)["overdue"] == 1
    assert run_round(later)["overdue"] == 0  # once
    assert Task.objects.get(id=task.id).overdue_notified_at is not None
    [notice] = Notification.objects(kind="task_overdue")
    assert (notice.user, notice.text) == (professional.id, f"Tâche en retard : « {task.title} »")
    assert policy.can(professional, "notification.view", notice)
