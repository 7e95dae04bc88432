"""The MSSanté plugin against real servers on loopback: an SMTP submission server (aiosmtpd)
that demands STARTTLS and the structure's client certificate, and an IMAP server (pymap)
with STARTTLS, both with certificates made here (trustme). Sending from a dossier, an entry
and the directory; receiving into the dossier's thread or a conversation, exactly once;
servers down (nothing lost); bad addresses, huge and broken mails; who may do what."""

import email
import imaplib
import io
import ssl
import subprocess
import sys
import time
from datetime import timedelta
from email import policy as email_policy
from email.message import EmailMessage
from html import unescape
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from dossier_helpers import PDF, new_dossier
from helpers import field_error, html
from pypdf import PdfReader

from app import clock
from app.audit import AuditEvent
from app.directory.models import Professional
from app.discussions.models import Discussion, Message
from app.dossiers import documents, entries
from app.dossiers.models import Entry
from app.embedded import free_port
from plugins.mss import incoming, outgoing, settings
from plugins.mss.models import MssMail, MssMailbox, MssSettings

BAL = "coordination@dac31.mssante.fr"
LOGIN, SECRET = "dac31", "mot-de-passe-de-la-bal"
DOCTOR = "jean.dupont@medecin.mssante.fr"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 120


@pytest.fixture(scope="module")
def pki():
    """An operator's authority, its servers' certificate and the structure's client one."""
    authority = trustme.CA()
    server = authority.issue_cert("127.0.0.1", "localhost")
    client = authority.issue_cert("dac31.mssante.fr")
    return authority, server, client


class Submission:
    """aiosmtpd as an MSSanté operator's submission server: STARTTLS required, a client
    certificate of the operator's authority required, login required."""

    def __init__(self, pki):
        authority, server, _ = pki
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server.configure_cert(context)
        authority.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
        self.port, self.received, self.peers = free_port(), [], []
        self.controller = Controller(
            self, hostname="127.0.0.1", port=self.port, tls_context=context,
            require_starttls=True, auth_require_tls=True, authenticator=self.authenticate,
            auth_required=True,
        )  # fmt: skip

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        expected = (LOGIN.encode(), SECRET.encode())
        return AuthResult(success=(auth_data.login, auth_data.password) == expected)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.peers.append(server.transport.get_extra_info("peercert"))
        self.received.append(
            email.message_from_bytes(envelope.content, policy=email_policy.default)
        )
        return "250 OK"


@pytest.fixture(scope="module")
def submission(pki):
    server = Submission(pki)
    server.controller.start()
    yield server
    server.controller.stop()


@pytest.fixture(scope="module")
def imap_server(pki, tmp_path_factory):
    """pymap, a real IMAP server, in its own process: STARTTLS with the operator's
    certificate, one mailbox (the structure's)."""
    _, server, _ = pki
    folder = tmp_path_factory.mktemp("imap")
    cert, key = folder / "cert.pem", folder / "key.pem"
    server.cert_chain_pems[0].write_to_path(str(cert))
    server.private_key_pem.write_to_path(str(key))
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "pymap"), "--host", "127.0.0.1", "--port",
         str(port), "--cert", str(cert), "--key", str(key), "dict", "--demo-user", LOGIN,
         "--demo-password", SECRET],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 15
    while True:
        try:
            imaplib.IMAP4("127.0.0.1", port, timeout=2).logout()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("pymap did not start") from None
            time.sleep(0.1)
    yield port
    process.terminate()
    process.wait(10)


def client(port, pki):
    imap = imaplib.IMAP4("127.0.0.1", port)
    context = ssl.create_default_context()
    pki[0].configure_trust(context)
    imap.starttls(ssl_context=context)
    imap.login(LOGIN, SECRET)
    imap.select("INBOX")
    return imap


@pytest.fixture
def operator_mailbox(imap_server, pki):
    """The structure's mailbox, emptied; deliver(message) drops a mail in it (IMAP APPEND)."""
    imap = client(imap_server, pki)
    imap.store("1:*", "+FLAGS", "(\\Deleted)")
    imap.expunge()

    class Box:
        def deliver(self, message):
            data = message if isinstance(message, bytes) else message.as_bytes()
            assert imap.append("INBOX", None, None, data)[0] == "OK"

        def seen(self):
            imap.select("INBOX")
            return imap.search(None, "SEEN")[1][0].split()

        def count(self):
            return int(imap.select("INBOX")[1][0])

    yield Box()
    imap.logout()


@pytest.fixture
def app_config(app_config):
    return {**app_config, "PLUGINS": "exports,mss", "MSS_MAX_ATTEMPTS": 3}


def mailbox_form(pki, submission, imap_server, **changes):
    authority, _, client_cert = pki
    return {
        "address": BAL, "login": LOGIN, "password": SECRET,
        "smtp_host": "127.0.0.1", "smtp_port": str(submission.port),
        "imap_host": "127.0.0.1", "imap_port": str(imap_server),
        "certificate": client_cert.cert_chain_pems[0].bytes().decode(),
        "private_key": client_cert.private_key_pem.bytes().decode(),
        "ca": authority.cert_pem.bytes().decode(), **changes,
    }  # fmt: skip


@pytest.fixture
def configured(pki, submission, imap_server, structure, structure_admin, operator_mailbox):
    submission.received.clear()
    submission.peers.clear()
    settings.save(structure_admin, structure, mailbox_form(pki, submission, imap_server))
    return operator_mailbox


@pytest.fixture
def dossier(app, coordinator, structure, api_as):
    made = new_dossier(coordinator, structure)
    upload = documents.inspect(PDF, "compte-rendu.pdf")
    meta = {"category": "administratif", "visibility": "shared"}
    document = entries.add_document(coordinator, made, upload, meta)
    note = api_as(coordinator).post(f"/dossiers/{made.id}/entries", json={
        "note": "Chute le 12/11, pas de fracture.", "visibility": "public",
        "category": "administratif"})  # fmt: skip
    return made, document, Entry.objects.get(id=note.json["id"])


def send_now(minutes=0):
    return outgoing.send_due(clock.utcnow() + timedelta(minutes=minutes), owner="test")


def thread_bodies(discussion_id):
    return [m.body for m in Message.objects(discussion=discussion_id).order_by("seq")]


# --- settings ----------------------------------------------------------------------------------


def test_a_structure_admin_sets_the_mailbox_and_secrets_are_never_shown_again(
    login_as, structure_admin, structure, pki, submission, imap_server, professional,
    make_user, other_structure,
):  # fmt: skip
    web = login_as(structure_admin)
    url = f"/mss/reglages?structure={structure.id}"
    saved = web.post(url, mailbox_form(pki, submission, imap_server))
    assert saved.status_code == 302, html(saved)
    stored = MssSettings.objects.get(structure=structure.id)
    assert SECRET not in (stored.password or "")  # encrypted at rest
    assert "PRIVATE KEY" not in (stored.private_key or "")
    page = html(web.get(url))
    assert SECRET not in page
    assert "PRIVATE KEY" not in page
    assert "Enregistré : laisser vide pour le garder." in page
    # A blank password and key keep the stored ones.
    again = web.post(url, mailbox_form(pki, submission, imap_server, password="", private_key=""))
    assert again.status_code == 302
    assert MssSettings.objects.get(structure=structure.id).password == stored.password
    assert AuditEvent.objects(action="mss.configure").count() == 2
    # Nobody else sets it, nor reads its log.
    other_admin = make_user(other_structure, roles=["structure_admin"])
    for outsider in (professional, other_admin):
        assert login_as(outsider).get(url).status_code == 404
        assert login_as(outsider).get(f"/mss/journal?structure={structure.id}").status_code == 404


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"address": "dac31@gmail.com"}, "address", "« gmail.com » n'est pas un domaine MSSanté"),
        ({"smtp_port": "70000"}, "smtp_port", "Port attendu entre 1 et 65535."),
        ({"imap_host": "imap.example.fr/../x"}, "imap_host", "Nom d'hôte attendu"),
        ({"certificate": "-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----"},
         "certificate", "Ce n'est pas un certificat ou une clé au format PEM lisible."),
        ({"private_key": ""}, "private_key", "La clé privée du certificat est requise."),
        ({"ca": "x" * 20_001}, "ca", "20000 caractères au plus."),
    ],
)  # fmt: skip
def test_bad_mailbox_settings_are_refused_in_french_and_nothing_stored(
    login_as, structure_admin, structure, pki, submission, imap_server, changes, field, message
):
    web = login_as(structure_admin)
    form = mailbox_form(pki, submission, imap_server, **changes)
    refused = web.post(f"/mss/reglages?structure={structure.id}", form)
    assert refused.status_code == 400
    assert message in unescape(field_error(html(refused), field) or "")
    assert MssSettings.objects.count() == 0


# --- sending ------------------------------------------------------------------------------------


def test_a_coordinator_sends_a_note_as_pdf_and_a_document_from_the_dossier(
    login_as, coordinator, structure, configured, submission, dossier, pki
):
    made, document, note = dossier
    web = login_as(coordinator)
    page = html(web.get(f"/dossiers/{made.id}"))
    assert f'href="/mss/envoyer?dossier={made.id}"' in page
    entry_page = html(web.get(f"/entrees/{note.id}"))
    assert f"/mss/envoyer?dossier={made.id}&amp;entry={note.id}" in entry_page
    form = web.get(f"/mss/envoyer?dossier={made.id}&entry={note.id}&entry={document.id}")
    assert "compte-rendu.pdf" in html(form)
    sent = web.post("/mss/envoyer", {"dossier": str(made.id), "entry": [str(note.id),
                    str(document.id)], "to": DOCTOR.upper(), "subject": "Chute de Mme Martin",
                    "body": "Bonjour, voici le compte rendu."})  # fmt: skip
    assert sent.status_code == 302, html(sent)
    mail = MssMail.objects.get(direction="out")
    assert (mail.address, mail.status) == (DOCTOR, "pending")
    # The dossier's thread shows what left, at once.
    [shown] = thread_bodies(mail.discussion)
    assert shown.startswith(f"Envoyé par MSSanté à {DOCTOR} — « Chute de Mme Martin »")
    assert Discussion.objects.get(id=mail.discussion).dossier == made.id

    assert send_now() == 1
    [message] = submission.received
    assert (message["From"], message["To"], message["Subject"]) == (
        BAL, DOCTOR, "Chute de Mme Martin")  # fmt: skip
    assert message["Message-ID"] == mail.message_id
    assert "Bonjour, voici le compte rendu." in message.get_body(("plain",)).get_content()
    files = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert files["compte-rendu.pdf"] == PDF
    [pdf_name] = [name for name in files if name != "compte-rendu.pdf"]
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(files[pdf_name])).pages)
    assert "Chute le 12/11, pas de fracture." in text
    # The operator saw the structure's certificate.
    assert ("DNS", "dac31.mssante.fr") in submission.peers[0]["subjectAltName"]
    assert MssMail.objects.get(id=mail.id).status == "sent"
    assert send_now() == 0  # sent once
    assert AuditEvent.objects(action="mss.send").get().details["to"] == DOCTOR


def test_the_thread_names_what_was_sent_only_to_who_may_open_it(
    api_as, login_as, coordinator, structure, configured, dossier, make_user
):
    """A private note and document sent by MSSanté: the circle's thread says a mail left
    with two attachments, and names them only to who may open them."""
    made, document, _ = dossier
    nurse = make_user(structure, profession="60")
    api_as(coordinator).post(f"/dossiers/{made.id}/members",
                             json={"user": str(nurse.id), "care_role": "infirmier"})  # fmt: skip
    private = {"category": "administratif", "visibility": "private"}
    secret = entries.add_document(
        coordinator, made, documents.inspect(PDF, "signalement-maltraitance.pdf"), private
    )
    note = entries.add_entry(coordinator, made, {**private, "note": "Suspicion",
                                                 "title": "Note sur la famille"})  # fmt: skip
    mail = outgoing.compose(coordinator, {"to": DOCTOR, "subject": "Signalement", "body": "Voir"},
                            made.id, [str(secret.id), str(note.id), str(document.id)])  # fmt: skip
    url = f"/dossiers/{made.id}/messages"
    [shown] = api_as(nurse).get(url).json["items"]
    assert shown["body"].startswith(f"Envoyé par MSSanté à {DOCTOR} — « Signalement »")
    assert [a["filename"] for a in shown["attachments"]] == [None, None, "compte-rendu.pdf"]
    page = html(login_as(nurse).get(f"/dossiers/{made.id}/discussion"))
    for text in (shown["body"], page):
        assert "signalement-maltraitance" not in text
        assert "Note sur la famille" not in text
    [mine] = api_as(coordinator).get(url).json["items"]
    names = ["signalement-maltraitance.pdf", "Note sur la famille.pdf", "compte-rendu.pdf"]
    assert [a["filename"] for a in mine["attachments"]] == names
    assert [a.filename for a in mail.attachments] == names


def test_the_log_names_no_attachment_when_one_is_gone(
    login_as, coordinator, structure_admin, structure, configured, dossier
):
    made, document, _ = dossier
    outgoing.compose(coordinator, {"to": DOCTOR, "subject": "CR", "body": "Voir"}, made.id,
                     [str(document.id)])  # fmt: skip
    entries.delete_entry(coordinator, document.id, {"reason": "Erreur de dossier"})
    assert send_now() == 0
    failed = MssMail.objects.get(direction="out")
    assert failed.status == "failed"
    assert "compte-rendu" not in failed.last_error
    log = html(login_as(structure_admin).get(f"/mss/journal?structure={structure.id}"))
    assert "La pièce jointe n° 1 n&#39;est plus dans le dossier." in log
    assert "compte-rendu" not in log


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"to": "dupont@gmail.com"}, "to", "« gmail.com » n'est pas un domaine MSSanté"),
        ({"to": "dupont@mssante.fr.evil.com"}, "to", "n'est pas un domaine MSSanté"),
        ({"to": "pas une adresse"}, "to", "Adresse de messagerie invalide."),
        ({"subject": ""}, "subject", "Donnez un objet au message."),
        ({"subject": "x" * 201}, "subject", "L'objet dépasse 200 caractères."),
        ({"body": "x" * 20_000}, "body", "Le message dépasse 19 000 caractères."),
    ],
)  # fmt: skip
def test_a_bad_mail_is_refused_in_french_and_nothing_queued(
    login_as, coordinator, configured, dossier, form, field, message
):
    made, *_ = dossier
    data = {"dossier": str(made.id), "to": DOCTOR, "subject": "Objet", "body": "Texte", **form}
    refused = login_as(coordinator).post("/mss/envoyer", data)
    assert refused.status_code == 400
    assert message in unescape(field_error(html(refused), field) or "")
    assert MssMail.objects.count() == 0
    assert Message.objects.count() == 0


def test_who_may_not_see_the_dossier_sends_nothing_from_it(
    login_as, configured, dossier, make_user, other_structure, structure
):
    made, document, _ = dossier
    stranger = make_user(other_structure, roles=["coordinator"])
    web = login_as(stranger)
    assert web.get(f"/mss/envoyer?dossier={made.id}").status_code == 404
    data = {"dossier": str(made.id), "to": DOCTOR, "subject": "x", "entry": str(document.id)}
    assert web.post("/mss/envoyer", data).status_code == 404
    # A member of the structure outside the dossier's circle neither.
    colleague = make_user(structure, roles=["professional"])
    assert login_as(colleague).post("/mss/envoyer", data).status_code == 404
    assert MssMail.objects.count() == 0


def test_the_operator_down_then_back_sends_once_and_a_missing_certificate_fails(
    api_as, coordinator, structure, structure_admin, configured, submission, dossier, pki,
    imap_server, login_as,
):  # fmt: skip
    made, *_ = dossier
    closed = free_port()
    settings.save(structure_admin, structure,
                  mailbox_form(pki, submission, imap_server, smtp_port=str(closed)))  # fmt: skip
    outgoing.compose(coordinator, {"to": DOCTOR, "subject": "Relance", "body": "?"}, made.id)
    assert send_now() == 0
    mail = MssMail.objects.get(direction="out")
    assert (mail.status, mail.attempts) == ("pending", 1)
    assert "ConnectionRefusedError" in mail.last_error
    assert send_now() == 0  # not due yet: the back-off holds
    settings.save(structure_admin, structure, mailbox_form(pki, submission, imap_server))
    assert send_now(minutes=2) == 1
    assert len(submission.received) == 1
    # Without the client certificate the operator refuses the connection: retried, then
    # failed after the last attempt, and the structure's log says so.
    MssSettings.objects(structure=structure.id).update_one(unset__certificate=True)
    outgoing.compose(coordinator, {"to": DOCTOR, "subject": "Sans certificat", "body": "?"},
                     made.id)  # fmt: skip
    for minutes in (0, 2, 30):
        send_now(minutes)
    failed = MssMail.objects.get(subject="Sans certificat")
    assert (failed.status, failed.attempts) == ("failed", 3)
    log = html(login_as(structure_admin).get(f"/mss/journal?structure={structure.id}"))
    assert "échec" in log
    assert "Sans certificat" in log
    assert len(submission.received) == 1


# --- receiving ----------------------------------------------------------------------------------


def reply_to(mail, text="Reçu, je passe jeudi.", attachment=None, sender=DOCTOR):
    message = EmailMessage()
    message["From"] = f"Dr Jean Dupont <{sender}>"
    message["To"] = BAL
    message["Subject"] = f"Re: {mail.subject}" if mail else "Nouvelle patiente"
    if mail:
        message["In-Reply-To"] = mail.message_id
    message["Message-ID"] = f"<{time.time_ns()}@medecin.mssante.fr>"
    message.set_content(text)
    if attachment:
        content, name, kind = attachment
        message.add_attachment(content, maintype=kind[0], subtype=kind[1], filename=name)
    return message


def test_a_reply_lands_in_the_dossier_thread_once_with_its_attachment_as_a_document(
    coordinator, configured, dossier, api_as
):
    made, *_ = dossier
    sent = outgoing.compose(coordinator, {"to": DOCTOR, "subject": "Chute", "body": "CR?"},
                            made.id)  # fmt: skip
    configured.deliver(reply_to(sent, attachment=(PDF, "cr-visite.pdf", ("application", "pdf"))))
    assert incoming.receive_all() == 1
    bodies = thread_bodies(sent.discussion)
    assert bodies[-1].startswith("Reçu par MSSanté — « Re: Chute »")
    assert "Reçu, je passe jeudi." in bodies[-1]
    last = Message.objects(discussion=sent.discussion).order_by("-seq").first()
    assert last.author_name == f"Dr Jean Dupont <{DOCTOR}> (MSSanté)"
    [document] = Entry.objects(dossier=made.id, filename="cr-visite.pdf")
    assert document.kind == "document"
    assert last.attachments[0].entry == document.id
    # The coordinator is told, and sees it through the API.
    assert api_as(coordinator).get("/notifications").json["items"][0]["kind"] == "message"
    # Exactly once: a second round, and a second worker, file nothing more.
    assert incoming.receive_all() == 0
    assert MssMailbox.objects.get().last_uid > 0
    MssMailbox.objects.delete()  # even when the reading position is lost
    assert incoming.receive_all() == 0
    assert len(thread_bodies(sent.discussion)) == 2
    assert len(configured.seen()) == 1  # marked seen, kept in the mailbox


def test_a_new_mail_goes_to_the_coordinators_conversation_and_the_next_one_too(
    coordinator, configured, structure, make_user
):
    colleague = make_user(structure, roles=["coordinator"])
    configured.deliver(reply_to(None, "Pouvez-vous prendre Mme R. ?"))
    configured.deliver(reply_to(None, "Relance."))
    assert incoming.receive_all() == 2
    [conversation] = Discussion.objects(kind="conversation")
    assert conversation.title == f"MSSanté — {DOCTOR}"
    assert set(conversation.participants) == {coordinator.id, colleague.id}
    assert len(thread_bodies(conversation.id)) == 2


def test_without_coordinators_the_structure_admins_read_the_mail(
    configured, structure, structure_admin
):
    configured.deliver(reply_to(None, "Personne pour lire ?"))
    assert incoming.receive_all() == 1
    [conversation] = Discussion.objects(kind="conversation")
    assert conversation.participants == [structure_admin.id]


def test_a_huge_a_broken_and_a_dangerous_mail_are_filed_with_a_note_and_nothing_lost(
    configured, coordinator
):
    huge = reply_to(None, "Le dossier complet.",
                    attachment=(b"%PDF-1.4\n" + b"0" * (50 * 1024 * 1024), "dossier.pdf",
                                ("application", "pdf")))  # fmt: skip
    configured.deliver(huge)
    broken = (b"From: Dr X <x@medecin.mssante.fr>\r\nSubject: =?utf-8?q?cass=C3=A9?=\r\n"
              b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n"
              b"--zz\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
              b"@@@ pas du base64 @@@\r\n--zz\r\nContent-Type: application/pdf; name=a.pdf\r\n"
              b"Content-Disposition: attachment; filename=a.pdf\r\n"
              b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK%%%\r\n")  # fmt: skip
    configured.deliver(broken)
    program = (ELF, "outil.exe", ("application", "octet-stream"))
    configured.deliver(reply_to(None, "Un programme.", attachment=program))
    assert incoming.receive_all() == 3
    [conversation, *_] = Discussion.objects(kind="conversation")
    bodies = "\n".join(m.body for m in Message.objects())
    assert "au-delà de la limite de 30 Mo : il reste dans la boîte aux lettres MSSanté" in bodies
    assert "« cassé »" in bodies
    assert "structure MIME" in bodies
    assert "pièce jointe « outil.exe » non importée" in bodies
    huge_one, broken_one, program_one = Message.objects().order_by("created_at", "seq")
    assert (huge_one.attachments, program_one.attachments) == ([], [])
    assert "« a.pdf »" not in broken_one.body  # what could be decoded is kept
    assert configured.count() == 3  # all still in the mailbox
    notes = [m.note for m in MssMail.objects(direction="in").order_by("created_at")]
    assert notes[0].startswith("message de 68.4 Mo")  # 50 MiB in base64


def test_the_mailbox_unreachable_loses_nothing(
    configured, coordinator, structure, structure_admin, pki, submission, imap_server
):
    down = mailbox_form(pki, submission, imap_server, imap_port=str(free_port()))
    settings.save(structure_admin, structure, down)
    configured.deliver(reply_to(None, "Pendant la panne."))
    assert incoming.receive_all() == 0
    assert "ConnectionRefusedError" in MssMailbox.objects.get().last_error
    settings.save(structure_admin, structure, mailbox_form(pki, submission, imap_server))
    assert incoming.receive_all() == 1
    assert MssMailbox.objects.get().last_error is None
    assert "Pendant la panne." in Message.objects.get().body


# --- from the directory -------------------------------------------------------------------------


def test_the_directory_offers_to_write_by_mssante_and_the_answer_follows(
    login_as, coordinator, configured, submission
):
    doctor = Professional(last_name="DUPONT", first_name="Jean", profession="10",
                          mss=DOCTOR).save()  # fmt: skip
    web = login_as(coordinator)
    profile = html(web.get(f"/annuaire/{doctor.id}"))
    assert "Envoyer par MSSanté" in profile
    assert f'href="/mss/envoyer?to={DOCTOR}"' in profile
    sent = web.post("/mss/envoyer", {"to": DOCTOR, "subject": "Bonjour", "body": "Un mot."})
    assert sent.status_code == 302
    mail = MssMail.objects.get(direction="out")
    assert mail.dossier is None
    conversation = Discussion.objects.get(id=mail.discussion)
    assert conversation.participants == [coordinator.id]
    assert send_now() == 1
    configured.deliver(reply_to(mail, "Bien reçu."))
    assert incoming.receive_all() == 1
    assert "Bien reçu." in thread_bodies(conversation.id)[-1]
    # Without a mailbox for the structure, no button and a clear refusal.
    MssSettings.objects.delete()
    assert "Envoyer par MSSanté" not in html(web.get(f"/annuaire/{doctor.id}"))
    refused = web.post("/mss/envoyer", {"to": DOCTOR, "subject": "x", "body": "y"})
    assert refused.status_code == 400
    assert "Aucune boîte aux lettres MSSanté n'est configurée" in html(refused)
