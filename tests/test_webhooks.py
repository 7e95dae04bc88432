"""The webhooks plugin (PLUGINS=webhooks): a structure admin subscribes an HTTPS endpoint to
events of the dossiers the structure coordinates; the worker posts them signed, with
identifiers only, retries with back-off, and shows each delivery in a log.

The receiver is a real HTTPS server on loopback (certificate from a trustme authority given
through WEBHOOKS_CA_BUNDLE); the events come from the real services; no test sleeps for a
back-off: the worker is run with a later `now`."""

import hashlib
import hmac
import json
import re
import ssl
import threading
import time
from collections import namedtuple
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trustme
from bson import ObjectId
from dossier_helpers import IDENTITY, new_dossier
from helpers import html, run_at_once
from markupsafe import escape
from test_pathway_instances import EVALUATION, VISIT, world  # noqa: F401
from test_pathway_tasks import first_step

from app import create_app, policy
from app.audit import AuditEvent
from app.cli import cli
from app.clock import today, utcnow
from app.errors import Forbidden
from app.pathways.models import Task
from app.plugins import PluginError
from plugins.webhooks import configure, services
from plugins.webhooks.delivery import RETRY_DELAYS, deliver_due, forget_old, old_finished, run
from plugins.webhooks.models import WebhookDelivery, WebhookSubscription

BASE = "/structure/webhooks"
ALL_EVENTS = ("entry.added", "task.completed", "pathway.completed", "consent.withdrawn")
SECRET_RE = re.compile(r'id="secret">([^<]+)</code>')
NOTE = "Passage de l'infirmière à 9 h : chute dans la salle de bains."
# Every action of app/policy.py that this file checks (tests/test_policy.py counts them).
WEBHOOK_ACTIONS = {"webhook.list", "webhook.list_all", "webhook.view", "webhook.manage"}

Received = namedtuple("Received", "path headers body")
# What no body may hold: the patients' names and birth date, a note, form answers.
PRIVATE = (IDENTITY["birth_name"], IDENTITY["used_name"], "Jeanne", IDENTITY["birth_date"],
           "Durand", NOTE, "autre structure", EVALUATION["synthese"]["analyse"],
           VISIT["objet_visite"] + '"')  # fmt: skip


class Receiver:
    """A real HTTPS server on 127.0.0.1 that records every POST. `script` says how to answer
    the next ones: a status, or ("sleep", seconds) to answer 200 that much later; 200 once
    the script is used up."""

    def __init__(self, ca):
        self.requests, self.script, self.lock = [], [], threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.requests.append(Received(self.path, dict(self.headers), body))
                    action = receiver.script.pop(0) if receiver.script else 200
                if isinstance(action, tuple):
                    time.sleep(action[1])
                    action = 200
                self.send_response(action)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a client that gave up (the timeout test): nothing to report

        self.server = Server(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        port = self.server.server_address[1]
        self.url = f"https://127.0.0.1:{port}/parcours/evenements?source=test"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def bodies(self):
        return [json.loads(r.body) for r in self.requests]


@pytest.fixture(scope="session")
def ca():
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_file(ca, tmp_path_factory):
    path = tmp_path_factory.mktemp("webhooks") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def app_config(app_config, ca_file):
    # Loopback is a private address: allowed here so that the test server can receive.
    return {**app_config, "PLUGINS": "webhooks", "WEBHOOKS_ALLOW_PRIVATE": True,
            "WEBHOOKS_CA_BUNDLE": ca_file}  # fmt: skip


@pytest.fixture
def receiver(ca):
    server = Receiver(ca)
    yield server
    server.stop()


@pytest.fixture
def other_admin(make_user, other_structure):
    return make_user(other_structure, roles=["structure_admin"], profession="coordinateur")


def subscribe(browser, structure, url, events=ALL_EVENTS, label="DPI de test"):
    """Subscribe through the page; (the subscription, the secret the page showed once)."""
    form = {"structure": str(structure.id), "url": url, "events": list(events), "label": label}
    response = browser.post(f"{BASE}/nouveau", form)
    assert response.status_code == 200, html(response)
    assert response.headers["Cache-Control"] == "no-store"
    secret = SECRET_RE.search(html(response)).group(1)
    return WebhookSubscription.objects.get(secret=secret), secret


def add_note(api, dossier, text=NOTE):
    note = {"note": text, "visibility": "public", "category": "administratif"}
    made = api.post(f"/dossiers/{dossier.id}/entries", json=note)
    assert made.status_code == 201, made.json
    return made.json["id"]


def verify(secret, received):
    """The check the plugin's docstring gives to integrators."""
    header = received.headers["X-Parcours-Signature"]
    fields = dict(part.split("=", 1) for part in header.split(","))
    signed = f"{fields['t']}.".encode() + received.body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(fields["t"])) <= 300
    return fresh and hmac.compare_digest(expected, fields.get("v1", ""))


def canonical(body):
    return json.dumps(body, sort_keys=True)


def log_row(browser, subscription, delivery):
    """The delivery's row in the subscription's log page, as `browser` sees it."""
    page = html(browser.get(f"{BASE}/{subscription.id}"))
    return page.split(f'id="envoi-{delivery.id}"')[1].split("</tr>")[0]


def retry_url(subscription, delivery_id):
    return f"{BASE}/{subscription.id}/envois/{delivery_id}/renvoyer"


def fail_for_good(receiver):
    """Run the worker through every attempt of the one pending delivery, each answered 503:
    it ends failed, as in production. Returns it."""
    receiver.script = [503] * (len(RETRY_DELAYS) + 1)
    moment = utcnow()
    for _ in RETRY_DELAYS:
        assert deliver_due(moment) == {"retry": 1}
        moment = WebhookDelivery.objects.get(status="pending").next_attempt_at
    assert deliver_due(moment) == {"failed": 1}
    return WebhookDelivery.objects.get(status="failed")


def all_deliveries():
    return list(WebhookDelivery._get_collection().find({}, sort=[("_id", 1)]))


def error_of(page, name):
    match = re.search(rf'id="e-{name}">([^<]*)</div>', page)
    return match.group(1) if match else None


# --- the events, signed, identifiers only ------------------------------------------------------


def test_events_reach_the_structures_endpoint_signed_and_without_health_data(
    app, login_as, api_as, structure_admin, other_admin, coordinator, structure, other_structure,
    make_user, world, receiver,  # noqa: F811
):  # fmt: skip
    dossier, gp, _ = world
    wanted = ("entry.added", "task.completed", "pathway.completed")  # not consent.withdrawn
    mine, secret = subscribe(login_as(structure_admin), structure, receiver.url, wanted)
    theirs, their_secret = subscribe(
        login_as(other_admin), other_structure, f"{receiver.url}&autre=1", ("entry.added",)
    )
    coord = api_as(coordinator)
    note = add_note(coord, dossier)
    instance = first_step(coord, dossier)  # the evaluation: an entry, a completed task
    gp_api = api_as(gp)
    [visit] = gp_api.get("/tasks").json["items"]
    done = gp_api.post(f"/tasks/{visit['id']}/complete", json={"data": VISIT})
    assert done.status_code == 200, done.json  # the visit: an entry, a task, the pathway's end
    # The other structure's dossier: for the other structure's subscription only.
    other_coord = make_user(other_structure, roles=["coordinator"], profession="coordinateur")
    elsewhere = new_dossier(other_coord, other_structure,
                            identity={"birth_name": "Durand", "first_names": "Paul"})  # fmt: skip
    their_note = add_note(api_as(other_coord), elsewhere, "Note de l'autre structure.")
    # Not subscribed to: no delivery.
    withdrawn = coord.post(f"/dossiers/{dossier.id}/consent/withdraw",
                           json={"date": today(), "reason": "Demande de la patiente."})  # fmt: skip
    assert withdrawn.status_code == 200, withdrawn.json
    assert receiver.requests == []  # nothing leaves during the requests: the worker posts

    assert deliver_due(utcnow()) == {"delivered": 7}
    tasks = {t.spec: t for t in Task.objects(instance=instance)}
    evaluation, visit_task = tasks["evaluation"], tasks["visite"]
    steps = {"instance": instance, "pathway": "suivi_gir"}
    expected_mine = [
        {"event": "entry.added", "entry": note},
        {"event": "entry.added", "entry": str(evaluation.entry)},
        {"event": "task.completed", "task": str(evaluation.id),
         "task_name": "Évaluation multidimensionnelle", "step": "evaluation", **steps},
        {"event": "entry.added", "entry": str(visit_task.entry)},
        {"event": "pathway.completed", **steps},
        {"event": "task.completed", "task": str(visit_task.id), "task_name": "Visite à domicile",
         "step": "visite", **steps},
    ]  # fmt: skip
    expected_theirs = [{"event": "entry.added", "entry": their_note}]
    got = {mine.id: [], theirs.id: []}
    for received, body in zip(receiver.requests, receiver.bodies(), strict=True):
        subscription, key = (theirs, their_secret) if "autre=1" in received.path else (mine, secret)
        assert received.path.startswith("/parcours/evenements?source=test")
        assert verify(key, received)
        assert not verify(key + "x", received)
        assert received.headers["Content-Type"] == "application/json"
        assert received.headers["X-Parcours-Event"] == body["event"]
        assert received.headers["X-Parcours-Delivery"] == body["id"]
        delivery = WebhookDelivery.objects.get(id=body["id"])
        assert (delivery.subscription, delivery.status, delivery.attempts) == (
            subscription.id, "delivered", 1)  # fmt: skip
        occurred = datetime.fromisoformat(body.pop("occurred_at"))
        assert abs((utcnow() - occurred).total_seconds()) < 120
        body.pop("id")
        dossier_id = body.pop("dossier")
        assert dossier_id == str(elsewhere.id if subscription is theirs else dossier.id)
        got[subscription.id].append(body)
        # Identifiers only: no name, birth date, note, form content.
        text = received.body.decode()
        for private in PRIVATE:
            assert private not in text
    assert sorted(got[mine.id], key=canonical) == sorted(expected_mine, key=canonical)
    assert got[theirs.id] == expected_theirs
    # Delivered once: a later round sends nothing again.
    assert deliver_due(utcnow() + timedelta(days=1)) == {}
    assert len(receiver.requests) == 7


def test_a_500_then_a_200_is_delivered_once_after_two_attempts(
    login_as, api_as, structure_admin, coordinator, structure, receiver
):
    subscription, secret = subscribe(login_as(structure_admin), structure, receiver.url)
    dossier = new_dossier(coordinator, structure)
    add_note(api_as(coordinator), dossier)
    receiver.script = [500]
    now = utcnow()
    assert deliver_due(now) == {"retry": 1}
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("pending", 1, 500)
    assert delivery.last_error == "Réponse HTTP 500 (attendu : 2xx)."
    assert abs(delivery.next_attempt_at - (now + RETRY_DELAYS[0])) < timedelta(milliseconds=2)
    assert deliver_due(now + timedelta(seconds=30)) == {}  # not due yet
    assert deliver_due(now + timedelta(seconds=61)) == {"delivered": 1}
    delivery.reload()
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("delivered", 2, 200)
    assert delivery.last_error is None
    assert delivery.next_attempt_at is None
    assert deliver_due(now + timedelta(days=2)) == {}
    first, second = receiver.requests
    assert first.body == second.body  # the same delivery, recognisable by its id
    assert first.headers["X-Parcours-Delivery"] == second.headers["X-Parcours-Delivery"]
    assert verify(secret, second)
    row = log_row(login_as(structure_admin), subscription, delivery)
    assert 'data-state="delivered"' in row
    assert "Livrée" in row
    assert "HTTP 200" in row
    assert "<td>2</td>" in row


def test_after_the_last_attempt_it_failed_and_the_log_shows_it(
    login_as, api_as, structure_admin, platform_admin, coordinator, structure, receiver
):
    subscription, _ = subscribe(login_as(structure_admin), structure, receiver.url)
    dossier = new_dossier(coordinator, structure)
    add_note(api_as(coordinator), dossier)
    receiver.script = [503] * 10
    moment = utcnow()
    for delay in RETRY_DELAYS:  # 1 min, 5 min, 30 min, 2 h, 12 h
        assert deliver_due(moment) == {"retry": 1}
        delivery = WebhookDelivery.objects.get()
        assert abs(delivery.next_attempt_at - (moment + delay)) < timedelta(milliseconds=2)
        assert deliver_due(delivery.next_attempt_at - timedelta(seconds=1)) == {}
        moment = delivery.next_attempt_at
    assert deliver_due(moment) == {"failed": 1}
    delivery.reload()
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("failed", 6, 503)
    assert delivery.next_attempt_at is None
    assert delivery.failed_at is not None
    assert deliver_due(moment + timedelta(days=30)) == {}
    assert len(receiver.requests) == 6
    for who in (structure_admin, platform_admin):  # platform admins see the logs too
        row = log_row(login_as(who), subscription, delivery)
        assert 'data-state="failed"' in row
        assert "En échec" in row
        assert "Réponse HTTP 503 (attendu : 2xx)." in row
        assert "<td>6</td>" in row


def test_an_endpoint_that_does_not_answer_in_time_is_a_failed_attempt(
    app, login_as, api_as, structure_admin, coordinator, structure, receiver
):
    app.config["WEBHOOKS_TIMEOUT"] = 0.5
    subscribe(login_as(structure_admin), structure, receiver.url)
    add_note(api_as(coordinator), new_dossier(coordinator, structure))
    receiver.script = [("sleep", 1.5)]
    now, started = utcnow(), time.monotonic()
    assert deliver_due(now) == {"retry": 1}
    assert time.monotonic() - started < 1.4  # it gave up at the timeout, not at the answer
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("pending", 1, None)
    assert delivery.last_error == "Pas de réponse dans le délai (0.5 s)."
    assert deliver_due(now + timedelta(minutes=1)) == {"delivered": 1}
    assert WebhookDelivery.objects.get().attempts == 2


def test_the_address_is_checked_again_at_delivery_time(
    app, login_as, api_as, structure_admin, coordinator, structure, receiver
):
    subscription, _ = subscribe(login_as(structure_admin), structure, receiver.url)
    add_note(api_as(coordinator), new_dossier(coordinator, structure))
    app.config["WEBHOOKS_ALLOW_PRIVATE"] = False  # as if the name now pointed inside
    assert deliver_due(utcnow()) == {"retry": 1}
    assert receiver.requests == []
    delivery = WebhookDelivery.objects.get()
    assert delivery.attempts == 1
    assert delivery.last_error.startswith(
        "Adresse refusée : « 127.0.0.1 » est une adresse de bouclage (loopback)"
    )
    page = html(login_as(structure_admin).get(f"{BASE}/{subscription.id}"))
    assert str(escape("Adresse refusée : « 127.0.0.1 »")) in page


def test_a_certificate_from_an_unknown_authority_is_refused(
    app, login_as, api_as, structure_admin, coordinator, structure, receiver
):
    subscribe(login_as(structure_admin), structure, receiver.url)
    add_note(api_as(coordinator), new_dossier(coordinator, structure))
    app.config["WEBHOOKS_CA_BUNDLE"] = ""  # the system's authorities: not the test's one
    assert deliver_due(utcnow()) == {"retry": 1}
    assert receiver.requests == []
    assert WebhookDelivery.objects.get().last_error.startswith("Connexion TLS refusée")


def test_two_workers_never_post_the_same_delivery(
    app, login_as, api_as, structure_admin, coordinator, structure, receiver
):
    subscribe(login_as(structure_admin), structure, receiver.url)
    coord, dossier = api_as(coordinator), new_dossier(coordinator, structure)
    for n in range(4):
        add_note(coord, dossier, f"Note {n}")
    now = utcnow()

    def work(name):
        with app.app_context():
            deliver_due(now, owner=name)

    assert run_at_once(work) == []
    ids = [r.headers["X-Parcours-Delivery"] for r in receiver.requests]
    assert sorted(ids) == sorted(str(d.id) for d in WebhookDelivery.objects)
    assert len(ids) == 4
    assert {d.status for d in WebhookDelivery.objects} == {"delivered"}


def test_the_worker_command_runs_the_job(
    runner, login_as, api_as, structure_admin, coordinator, structure, receiver
):
    subscribe(login_as(structure_admin), structure, receiver.url)
    add_note(api_as(coordinator), new_dossier(coordinator, structure))
    done = runner.invoke(cli, ["worker", "--once"])
    assert done.exit_code == 0, done.output
    assert "webhooks.deliver: 1 livrée(s)" in done.output
    assert len(receiver.requests) == 1


# --- managing subscriptions --------------------------------------------------------------------


def test_pause_new_secret_and_delete(login_as, api_as, structure_admin, coordinator, structure,
                                     receiver):  # fmt: skip
    admin = login_as(structure_admin)
    subscription, secret = subscribe(admin, structure, receiver.url)
    listed = html(admin.get(f"{BASE}/"))
    assert receiver.url.replace("&", "&amp;") in listed
    assert secret not in listed  # shown once, never again
    coord, dossier = api_as(coordinator), new_dossier(coordinator, structure)
    add_note(coord, dossier)
    # Paused: what waited is cancelled when its turn comes, and nothing new is queued.
    assert admin.post(f"{BASE}/{subscription.id}/activation", {"active": "0"}).status_code == 302
    add_note(coord, dossier)
    assert deliver_due(utcnow()) == {"cancelled": 1}
    assert receiver.requests == []
    assert admin.post(f"{BASE}/{subscription.id}/activation", {"active": "1"}).status_code == 302
    # A new secret signs from now on; the old one no longer verifies.
    renewed = admin.post(f"{BASE}/{subscription.id}/secret")
    assert renewed.status_code == 200
    assert renewed.headers["Cache-Control"] == "no-store"
    new_secret = SECRET_RE.search(html(renewed)).group(1)
    assert new_secret != secret
    add_note(coord, dossier)
    assert deliver_due(utcnow()) == {"delivered": 1}
    [received] = receiver.requests
    assert verify(new_secret, received)
    assert not verify(secret, received)
    # Deleted: the subscription and its log go.
    assert admin.post(f"{BASE}/{subscription.id}/supprimer").status_code == 302
    assert WebhookSubscription.objects.count() == 0
    assert WebhookDelivery.objects.count() == 0
    expected = ["webhook.create", "webhook.deactivate", "webhook.activate", "webhook.secret",
                "webhook.delete"]  # fmt: skip
    actions = [e.action for e in AuditEvent.objects(action__in=expected)]
    assert sorted(actions) == sorted(expected)
    assert all(secret not in str(e.details) for e in AuditEvent.objects)


BAD_URLS = [
    ("", "Indiquez l'adresse du logiciel qui recevra les événements."),
    ("http://93.184.215.14/hook",
     "L'adresse doit commencer par https:// : les événements partent chiffrés."),
    ("ftp://93.184.215.14/hook", "Seules les adresses https:// sont acceptées."),
    ("javascript:alert(1)", "Seules les adresses https:// sont acceptées."),
    ("93.184.215.14/hook", "Seules les adresses https:// sont acceptées."),
    ("https://user:motdepasse@93.184.215.14/hook",
     "L'adresse ne doit pas contenir d'identifiant ni de mot de passe : votre logiciel "
     "authentifie Parcours par la signature des envois."),
    ("https://93.184.215.14/" + "a" * 2000, "L'adresse dépasse 2 000 caractères."),
    ("https://93.184.215.14/a b", "L'adresse ne doit contenir ni espace ni caractère de contrôle."),
    ("https://93.184.215.14:99999/", "L'adresse n'est pas valide (port ou crochets incorrects)."),
    ("https://127.0.0.1/hook", "« 127.0.0.1 » est une adresse de bouclage (loopback)"),
    ("https://[::1]/hook", "« ::1 » est une adresse de bouclage (loopback)"),
    ("https://[::ffff:127.0.0.1]/", "« ::ffff:127.0.0.1 » est une adresse de bouclage (loopback)"),
    ("https://localhost:8443/", "« localhost » désigne"),
    ("https://10.1.2.3/hook", "« 10.1.2.3 » est une adresse privée (réseau interne)"),
    ("https://172.16.5.4/hook", "« 172.16.5.4 » est une adresse privée (réseau interne)"),
    ("https://192.168.1.10/hook", "« 192.168.1.10 » est une adresse privée (réseau interne)"),
    ("https://[fc00::1]/hook", "« fc00::1 » est une adresse privée (réseau interne)"),
    ("https://169.254.169.254/latest/meta-data",
     "« 169.254.169.254 » est une adresse lien-local"),
    ("https://0.0.0.0/hook", "« 0.0.0.0 » est une adresse non spécifiée"),
    ("https://224.0.0.1/hook", "« 224.0.0.1 » est une adresse de multidiffusion (multicast)"),
    ("https://240.0.0.1/hook", "« 240.0.0.1 » est une adresse réservée"),
    ("https://100.64.0.1/hook", "« 100.64.0.1 » est une adresse non routable sur Internet"),
]  # fmt: skip


@pytest.mark.parametrize(("url", "says"), BAD_URLS)
def test_a_bad_address_is_refused_with_its_reason(app, login_as, structure_admin, structure,
                                                  url, says):  # fmt: skip
    app.config["WEBHOOKS_ALLOW_PRIVATE"] = False  # production's rule
    response = login_as(structure_admin).post(
        f"{BASE}/nouveau", {"structure": str(structure.id), "url": url, "events": ["entry.added"]}
    )
    assert response.status_code == 400
    assert error_of(html(response), "url").startswith(str(escape(says)))
    assert WebhookSubscription.objects.count() == 0


def test_a_public_address_is_accepted(app, login_as, structure_admin, structure):
    app.config["WEBHOOKS_ALLOW_PRIVATE"] = False
    url = "https://93.184.215.14/parcours"
    subscription, secret = subscribe(login_as(structure_admin), structure, url, ("task.completed",))
    assert (subscription.events, subscription.active, subscription.secret) == (
        ["task.completed"], True, secret)  # fmt: skip
    assert subscription.created_by == structure_admin.id


@pytest.mark.parametrize(("events", "says"), [
    ([], "Choisissez au moins un événement."),
    (["dossier.deleted"], "Événement inconnu « dossier.deleted »."),
    (["entry.added", "x" * 300], f"Événement inconnu « {'x' * 50} »."),
])  # fmt: skip
def test_the_events_must_be_known_and_at_least_one(login_as, structure_admin, structure, receiver,
                                                   events, says):  # fmt: skip
    response = login_as(structure_admin).post(
        f"{BASE}/nouveau", {"structure": str(structure.id), "url": receiver.url, "events": events}
    )
    assert response.status_code == 400
    assert error_of(html(response), "events") == str(escape(says))
    assert WebhookSubscription.objects.count() == 0


def test_a_forged_post_without_csrf_is_refused(login_as, structure_admin, structure, receiver):
    admin = login_as(structure_admin)
    response = admin.post(f"{BASE}/nouveau", {"structure": str(structure.id), "url": receiver.url,
                                              "events": ["entry.added"]}, csrf=False)  # fmt: skip
    assert response.status_code == 400
    assert WebhookSubscription.objects.count() == 0
    subscription, _ = subscribe(admin, structure, receiver.url)
    assert admin.post(f"{BASE}/{subscription.id}/supprimer", csrf=False).status_code == 400
    assert WebhookSubscription.objects.count() == 1


# --- who may do what ----------------------------------------------------------------------------


def test_who_sees_and_manages_subscriptions(
    login_as, structure_admin, other_admin, platform_admin, coordinator, professional, structure,
    other_structure, receiver, client,
):  # fmt: skip
    subscription, _ = subscribe(login_as(structure_admin), structure, receiver.url)
    one = f"{BASE}/{subscription.id}"
    changes = [f"{one}/activation", f"{one}/secret", f"{one}/supprimer"]
    new = {"structure": str(structure.id), "url": receiver.url, "events": ["entry.added"]}
    # A professional and a coordinator: no webhook page at all.
    for user in (professional, coordinator):
        browser = login_as(user)
        assert browser.get(f"{BASE}/").status_code == 403
        assert browser.get(f"{BASE}/nouveau").status_code == 403
        assert browser.post(f"{BASE}/nouveau", new).status_code == 403
        assert browser.get(one).status_code == 404
        assert all(browser.post(url).status_code == 404 for url in changes)
    # The admin of another structure: their own list, not ours, and not for our structure.
    other = login_as(other_admin)
    listed = other.get(f"{BASE}/")
    assert listed.status_code == 200
    assert str(subscription.id) not in html(listed)
    assert other.get(one).status_code == 404
    assert all(other.post(url).status_code == 404 for url in changes)
    assert other.post(f"{BASE}/nouveau", new).status_code == 403
    assert other.post(f"{BASE}/nouveau", {**new, "structure": structure.key}).status_code == 403
    assert "DAC de test" not in html(other.get(f"{BASE}/nouveau"))  # not offered either
    # A platform admin sees every subscription and its log, and changes none.
    admin = login_as(platform_admin)
    assert str(subscription.id) in html(admin.get(f"{BASE}/"))
    assert admin.get(one).status_code == 200
    assert all(admin.post(url).status_code == 403 for url in changes)
    assert admin.get(f"{BASE}/nouveau").status_code == 403
    assert admin.post(f"{BASE}/nouveau", new).status_code == 403
    # Nobody signed in: the sign-in page. An id that means nothing: 404.
    assert client.get(f"{BASE}/").status_code == 302
    assert login_as(structure_admin).get(f"{BASE}/pas-un-id").status_code == 404
    # Nothing changed by all of that.
    assert WebhookSubscription.objects.count() == 1
    subscription.reload()
    assert subscription.active


def test_the_profile_page_links_to_the_subscriptions(login_as, structure_admin, professional):
    assert 'id="lien-webhooks"' in html(login_as(structure_admin).get("/profil"))
    assert 'id="lien-webhooks"' not in html(login_as(professional).get("/profil"))


WEBHOOK_MATRIX = {
    # action: expected for (platform admin, admin of the structure, admin of another one,
    # coordinator, professional, suspended admin of the structure); target: a subscription
    # of the structure (None for the lists).
    "webhook.list": "TTTFFF",
    "webhook.list_all": "TFFFFF",
    "webhook.view": "TTFFFF",
    "webhook.manage": "FTFFFF",
}


def test_the_policy_of_webhooks(make_user, platform_admin, structure_admin, other_admin,
                                coordinator, professional, structure):  # fmt: skip
    assert set(WEBHOOK_MATRIX) == WEBHOOK_ACTIONS
    assert {a for a in policy.ACTIONS if a.startswith("webhook.")} == WEBHOOK_ACTIONS
    suspended = make_user(structure, roles=["structure_admin"], status="suspended")
    actors = (platform_admin, structure_admin, other_admin, coordinator, professional, suspended)
    target = WebhookSubscription(structure=structure.id)
    for action, flags in WEBHOOK_MATRIX.items():
        answers = "".join("T" if policy.can(a, action, target) else "F" for a in actors)
        assert answers == flags, action
        assert policy.can(policy.SYSTEM, action, target)
        assert not policy.can(None, action, target)


def test_the_same_address_twice_is_refused(login_as, structure_admin, structure, receiver):
    """A reload of the page that showed the secret sends the form again: no second one."""
    admin = login_as(structure_admin)
    subscribe(admin, structure, receiver.url)
    again = admin.post(f"{BASE}/nouveau", {"structure": str(structure.id), "url": receiver.url,
                                           "events": ["entry.added"]})  # fmt: skip
    assert again.status_code == 400
    assert error_of(html(again), "url") == str(
        escape("Cette adresse est déjà abonnée pour cette structure.")
    )
    assert WebhookSubscription.objects.count() == 1


# --- sending a failed delivery again ("Renvoyer") ----------------------------------------------


def test_renvoyer_sends_a_failed_delivery_again_for_a_whole_new_round(
    login_as, api_as, structure_admin, coordinator, structure, receiver
):
    admin = login_as(structure_admin)
    subscription, secret = subscribe(admin, structure, receiver.url)
    coord, dossier = api_as(coordinator), new_dossier(coordinator, structure)
    add_note(coord, dossier)
    failed = fail_for_good(receiver)
    add_note(coord, dossier)
    assert deliver_due(utcnow()) == {"delivered": 1}
    delivered = WebhookDelivery.objects.get(status="delivered")
    # The button: on the failed row only.
    assert f'action="{retry_url(subscription, failed.id)}"' in log_row(admin, subscription, failed)
    assert "/renvoyer" not in log_row(admin, subscription, delivered)

    before = utcnow()
    response = admin.post(retry_url(subscription, failed.id))
    assert response.status_code == 302
    assert response.headers["Location"] == f"{BASE}/{subscription.id}"
    failed.reload()
    assert (failed.status, failed.attempts, failed.failed_at) == ("pending", 0, None)
    assert before <= failed.next_attempt_at <= utcnow()  # due at once
    [event] = AuditEvent.objects(action="webhook.retry")
    assert (event.actor, event.object_type, event.object_id) == (
        str(structure_admin.id), "WebhookSubscription", str(subscription.id))  # fmt: skip
    assert event.details == {"delivery": str(failed.id), "event": "entry.added", "attempts": 6}
    page = html(admin.get(f"{BASE}/{subscription.id}"))
    assert str(escape("L'envoi est remis dans la file : il repart dans quelques instants.")) in page
    row = page.split(f'id="envoi-{failed.id}"')[1].split("</tr>")[0]
    assert 'data-state="pending"' in row
    assert "<td>0</td>" in row
    assert "Réponse HTTP 503 (attendu : 2xx)." in row  # why it had failed, until the next try
    assert "/renvoyer" not in row

    # A new round, not a last chance: a failure is retried a minute later, then delivered.
    receiver.script = [500]
    now = utcnow()
    assert deliver_due(now) == {"retry": 1}
    assert deliver_due(now + timedelta(seconds=61)) == {"delivered": 1}
    failed.reload()
    assert (failed.status, failed.attempts, failed.last_status, failed.last_error) == (
        "delivered", 2, 200, None)  # fmt: skip
    sent = [r for r in receiver.requests if r.headers["X-Parcours-Delivery"] == str(failed.id)]
    assert len(sent) == 6 + 2
    assert sent[-1].body == sent[0].body  # the same delivery: the receiver drops a duplicate
    assert verify(secret, sent[-1])
    row = log_row(admin, subscription, failed)
    assert 'data-state="delivered"' in row
    assert "Livrée" in row
    assert "HTTP 200" in row
    assert "<td>2</td>" in row
    assert "/renvoyer" not in row


def test_renvoyer_is_refused_for_what_is_not_a_failed_delivery_one_manages(
    app, login_as, api_as, structure_admin, other_admin, platform_admin, coordinator,
    professional, structure, receiver, web,
):  # fmt: skip
    admin = login_as(structure_admin)
    mine, _ = subscribe(admin, structure, receiver.url)
    other, _ = subscribe(admin, structure, f"{receiver.url}&autre=1")
    coord, dossier = api_as(coordinator), new_dossier(coordinator, structure)
    for n in range(4):
        add_note(coord, dossier, f"Note {n}")
    # The states are set here; the test above makes a failed delivery the worker's way.
    failed, pending, delivered, cancelled = WebhookDelivery.objects(subscription=mine.id)
    for delivery, status in ((failed, "failed"), (delivered, "delivered"),
                             (cancelled, "cancelled")):  # fmt: skip
        WebhookDelivery.objects(id=delivery.id).update_one(set__status=status, set__attempts=6)
    theirs = WebhookDelivery.objects(subscription=other.id).first()
    WebhookDelivery.objects(id=theirs.id).update_one(set__status="failed", set__attempts=6)
    before = all_deliveries()

    for delivery, state in ((pending, "En attente"), (delivered, "Livrée"),
                            (cancelled, "Annulée")):  # fmt: skip
        refused = admin.post(retry_url(mine, delivery.id), follow_redirects=True)
        assert refused.status_code == 200
        says = f"Cet envoi est « {state} » : seul un envoi en échec peut être renvoyé."
        assert str(escape(says)) in html(refused)
    # Another subscription's delivery (its own is in the URL), a garbled id, no such one.
    for wrong in (theirs.id, "pas-un-id", ObjectId()):
        assert admin.post(retry_url(mine, wrong)).status_code == 404
    # Paused: the worker would only cancel it.
    assert admin.post(f"{BASE}/{mine.id}/activation", {"active": "0"}).status_code == 302
    refused = admin.post(retry_url(mine, failed.id), follow_redirects=True)
    says = "L'abonnement est en pause : reprenez-le avant de renvoyer un envoi."
    assert str(escape(says)) in html(refused)
    assert admin.post(f"{BASE}/{mine.id}/activation", {"active": "1"}).status_code == 302
    # Who may not: another structure's admin, a coordinator, a professional (404: they do
    # not see it); a platform admin sees the log, without the button, and may not (403).
    url = retry_url(mine, failed.id)
    for user in (other_admin, coordinator, professional):
        assert login_as(user).post(url).status_code == 404
    overseer = login_as(platform_admin)
    assert "/renvoyer" not in html(overseer.get(f"{BASE}/{mine.id}"))
    assert overseer.post(url).status_code == 403
    with pytest.raises(Forbidden):  # the service checks the acting user itself
        services.retry_delivery(platform_admin, mine, failed.id)
    assert web.post(url).status_code == 302  # nobody signed in: the sign-in page
    assert admin.post(url, csrf=False).status_code == 400
    assert all_deliveries() == before
    assert AuditEvent.objects(action="webhook.retry").count() == 0
    # The failed one of the subscription, by its admin: queued again.
    assert admin.post(url).status_code == 302
    assert WebhookDelivery.objects.get(id=failed.id).status == "pending"


# --- keeping the log WEBHOOKS_LOG_DAYS days ------------------------------------------------------


def test_the_worker_forgets_finished_deliveries_after_webhook_log_days(
    app, runner, db_commands, login_as, api_as, structure_admin, coordinator, structure,
    receiver,
):  # fmt: skip
    subscription, _ = subscribe(login_as(structure_admin), structure, receiver.url)
    coord, dossier = api_as(coordinator), new_dossier(coordinator, structure)
    for n in range(6):
        add_note(coord, dossier, f"Note {n}")
    assert deliver_due(utcnow()) == {"delivered": 6}
    now = utcnow()
    plan = [  # (state, age in days of the event)
        ("delivered", 91), ("failed", 91), ("cancelled", 91),  # past 90 days: they go
        ("pending", 400),  # still to be sent (sent again from the log): never deleted
        ("delivered", 89),  # kept at 90 days, gone at 30
        ("failed", 10),  # kept at 90 and 30 days, gone at 5
    ]  # fmt: skip
    deliveries = list(WebhookDelivery.objects.order_by("id"))
    for delivery, (status, days) in zip(deliveries, plan, strict=True):
        WebhookDelivery.objects(id=delivery.id).update_one(
            set__status=status, set__created_at=now - timedelta(days=days),
            set__next_attempt_at=now + timedelta(hours=1),
        )  # fmt: skip
    ids = [d.id for d in deliveries]

    def kept():
        return {d.id for d in WebhookDelivery.objects.only("id")}

    assert app.config["WEBHOOKS_LOG_DAYS"] == 90  # the default
    db_commands.reset()
    assert forget_old(now) == 3
    # Deleted on the server, on the index: no document read, one delete per finished state.
    assert db_commands.targets == ["delete webhook_deliveries"] * 3
    collection = WebhookDelivery._get_collection()
    for query in old_finished(now):
        winning = collection.find(query).explain()["queryPlanner"]["winningPlan"]
        assert winning["inputStage"]["indexName"] == "status_1_created_at_1", winning
    assert kept() == set(ids[3:])
    assert forget_old(now) == 0

    app.config["WEBHOOKS_LOG_DAYS"] = 30
    assert run(now) == "1 effacée(s) du journal"  # the worker's job
    assert kept() == {ids[3], ids[5]}
    app.config["WEBHOOKS_LOG_DAYS"] = 5
    done = runner.invoke(cli, ["worker", "--once"])
    assert done.exit_code == 0, done.output
    assert "webhooks.deliver: 1 effacée(s) du journal" in done.output
    assert kept() == {ids[3]}
    page = html(login_as(structure_admin).get(f"{BASE}/{subscription.id}"))
    assert "effacés 5 jours après" in page


def test_webhook_log_days_is_read_from_the_config_or_the_environment(monkeypatch):
    monkeypatch.delenv("WEBHOOKS_LOG_DAYS", raising=False)
    config = {}
    configure(config)
    assert config["WEBHOOKS_LOG_DAYS"] == 90
    config = {"WEBHOOKS_LOG_DAYS": " 30 "}
    configure(config)
    assert config["WEBHOOKS_LOG_DAYS"] == 30
    monkeypatch.setenv("WEBHOOKS_LOG_DAYS", "7")
    config = {}
    configure(config)
    assert config["WEBHOOKS_LOG_DAYS"] == 7


@pytest.mark.parametrize("value", ["abc", "1.5", "", "0", "-3", "3651", 0, 1.5, True, None])
def test_a_bad_webhook_log_days_stops_the_start_up(app_config, value):
    with pytest.raises(PluginError) as refused:
        create_app({**app_config, "WEBHOOKS_LOG_DAYS": value})
    message = str(refused.value)
    assert message.startswith("Extension « webhooks » :")
    expected = "WEBHOOKS_LOG_DAYS doit être un nombre entier de jours entre 1 et 3650"
    assert f"{expected} (reçu : « {value} »)" in message
