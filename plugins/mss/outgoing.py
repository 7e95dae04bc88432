"""Sending from Parcours to an MSSanté address: a message, entries of a dossier as PDF,
its documents. `compose` checks and queues (the mail shows at once in the dossier's thread,
or in a conversation of the sender's); `send_due`, run by the worker, submits the queue to
the structure's operator, retrying with back-off when it is unreachable."""

import logging
import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from functools import partial

from flask import current_app

from app import audit, db, policy
from app.accounts.models import User
from app.clock import utcnow
from app.discussions import services as discussions
from app.discussions.models import MAX_BODY
from app.dossiers import documents
from app.dossiers import entries as dossier_entries
from app.dossiers import services as dossiers
from app.dossiers.models import Dossier, Entry
from app.exports.services import entry_view
from app.notifications.delivery import LEASE, retry_delay
from app.structures.services import cached_structure
from app.validation import InvalidInput
from plugins.exports import pdf_export
from plugins.mss import transport
from plugins.mss.models import MAX_SUBJECT, MssAttachment, MssMail, MssSettings

log = logging.getLogger(__name__)

MAX_ATTACHMENTS = 5
MAX_TEXT = MAX_BODY - 1000  # room for the line that says where it went, in the thread
ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)$")
NO_MAILBOX = "Aucune boîte aux lettres MSSanté n'est configurée pour votre structure."


# Write what became of a leased mail, if `owner` still holds it, and let it go.
_finish = partial(db.release, MssMail)


def domains():
    """The health domains an MSSanté address may have (MSS_DOMAINS, comma-separated)."""
    value = current_app.config.get("MSS_DOMAINS") or "mssante.fr"
    return [d.strip().lower().lstrip(".") for d in value.split(",") if d.strip()]


def check_address(address, pointer="/to"):
    """The address, lower-cased, if it is in the MSSanté space; else a precise refusal."""
    address = (address or "").strip().lower()
    found = ADDRESS.match(address) if len(address) <= 254 else None
    if not found:
        raise InvalidInput({pointer: "Adresse de messagerie invalide."})
    domain, allowed = found.group(1), domains()
    if not any(domain == d or domain.endswith("." + d) for d in allowed):
        listed = ", ".join(allowed)
        message = f"« {domain} » n'est pas un domaine MSSanté (domaines admis : {listed})."
        raise InvalidInput({pointer: message}, message)
    return address


def mailbox_for(actor, dossier=None):
    """The settings of the mailbox `actor` sends from: the dossier's coordinating structure
    when they belong to it, else the first of theirs that has one; None if none has."""
    mine = [m.structure for m in actor.memberships]
    if dossier is not None and dossier.structure in mine:
        mine.remove(dossier.structure)
        mine.insert(0, dossier.structure)
    found = {s.structure: s for s in MssSettings.objects(structure__in=mine)} if mine else {}
    return next((found[s] for s in mine if s in found), None)


def _attachments(actor, dossier, entry_ids):
    if len(entry_ids) > MAX_ATTACHMENTS:
        raise InvalidInput({"/entries": f"Au plus {MAX_ATTACHMENTS} pièces jointes."})
    # A form or a note goes as the PDF a person reads.
    return [
        MssAttachment(entry=entry.id, filename=dossier_entries.file_name(entry),
                      kind="document" if entry.kind == "document" else "pdf")
        for entry in dossier_entries.attachable(actor, dossier, entry_ids, "/entries")
    ]  # fmt: skip


def compose(actor, data, dossier_id=None, entry_ids=()):
    """Queue a mail to an MSSanté address; returns it. From a dossier (what its thread
    shows), or from the directory (a conversation of the sender's keeps the exchange)."""
    dossier = dossiers.get_dossier(actor, dossier_id, record=False) if dossier_id else None
    settings = mailbox_for(actor, dossier)
    if settings is None:
        raise InvalidInput({"/to": NO_MAILBOX}, NO_MAILBOX)
    policy.require(actor, "mss.send", (settings.structure, dossier))
    errors = {}
    try:
        to = check_address(data.get("to"))
    except InvalidInput as refused:
        errors.update(refused.fields)
    subject = (data.get("subject") or "").strip()
    if not subject:
        errors["/subject"] = "Donnez un objet au message."
    elif len(subject) > MAX_SUBJECT:
        errors["/subject"] = f"L'objet dépasse {MAX_SUBJECT} caractères."
    body = (data.get("body") or "").strip()
    if len(body) > MAX_TEXT:
        errors["/body"] = f"Le message dépasse {MAX_TEXT:,} caractères.".replace(",", " ")
    if errors:
        raise InvalidInput(errors)
    attachments = _attachments(actor, dossier, list(entry_ids))
    if not body and not attachments:
        raise InvalidInput({"/body": "Le message est vide : écrivez quelque chose ou joignez "
                                     "un élément du dossier."})  # fmt: skip
    domain = settings.address.rpartition("@")[2]
    mail = MssMail(
        direction="out", structure=settings.structure, dossier=dossier.id if dossier else None,
        sender=actor.id, sender_name=actor.name, address=to, subject=subject, body=body,
        attachments=attachments, message_id=make_msgid(domain=domain), status="pending",
        next_attempt_at=utcnow(),
    )  # fmt: skip
    mail.discussion = _show(actor, dossier, mail).id
    mail.save()
    audit.record(actor, "mss.send", mail, dossier=str(dossier.id) if dossier else None,
                 to=to, attachments=len(attachments))  # fmt: skip
    return mail


def _show(actor, dossier, mail):
    """Post what was sent where the answer will come: the dossier's thread, or a
    conversation of the sender's named after the address. Returns the discussion. The
    entries sent are the message's attachments, which name each one only to who may open
    it (never in the text, which every reader of the thread reads)."""
    text = f"Envoyé par MSSanté à {mail.address} — « {mail.subject} »"
    text += f"\n\n{mail.body}" if mail.body else ""
    if dossier is not None:
        thread = discussions.dossier_thread(actor, dossier, "discussion.post")
    else:
        thread = conversation_with(mail.structure, mail.address, [actor.id], actor.id)
    sent = [str(a.entry) for a in mail.attachments]
    discussions.post(actor, thread, dossier, text, cited=sent, documents_only=False)
    return thread


def conversation_with(structure, address, members, created_by=None):
    """The conversation that keeps a structure's exchanges with `address` outside any
    dossier: the last one used, else a new one between `members`."""
    # By the (structure, address) index alone; the other conditions here (README, Queries).
    exchanges = MssMail.objects(structure=structure, address=address).only(
        "dossier", "discussion", "created_at"
    )
    kept = [m for m in exchanges if m.dossier is None and m.discussion is not None]
    last = max(kept, key=lambda m: m.created_at, default=None)
    if last is not None:
        found = discussions.Discussion.objects(id=last.discussion).first()
        if found is not None:
            return found
    return discussions.open_conversation(members, f"MSSanté — {address}", created_by)


# --- the worker ---------------------------------------------------------------------------------


def _message(mail, settings):
    message = EmailMessage()
    message["From"] = settings.address
    message["To"] = mail.address
    message["Subject"] = mail.subject
    message["Message-ID"] = mail.message_id
    message["Date"] = format_datetime(utcnow())
    structure = cached_structure(mail.structure)
    signature = f"{mail.sender_name} — {getattr(structure, 'name', '')}, envoyé avec Parcours"
    message.set_content(f"{mail.body or ''}\n\n-- \n{signature}\n")
    if mail.attachments:
        sender = User.objects(id=mail.sender).first()
        found = {e.id: e for e in Entry.objects(id__in=[a.entry for a in mail.attachments])}
        dossier = Dossier.objects(id=mail.dossier).first()
        for number, attachment in enumerate(mail.attachments, 1):
            entry = found.get(attachment.entry)
            if entry is None or entry.deleted or dossier is None or sender is None:
                # By its rank: the structure's log shows this to who may not open it.
                raise LookupError(f"La pièce jointe n° {number} n'est plus dans le dossier.")
            if attachment.kind == "document":
                content = documents.open_file(entry.file).read()
                kind = (entry.content_type or "application/octet-stream").split("/", 1)
            else:
                content = pdf_export.build(entry_view(sender, (dossier, entry)))
                kind = ["application", "pdf"]
            message.add_attachment(content, maintype=kind[0], subtype=kind[1],
                                   filename=attachment.filename)  # fmt: skip
    return message


def _permanent(error):
    if isinstance(error, LookupError):
        return True
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    return isinstance(error, smtplib.SMTPResponseException) and error.smtp_code >= 500


def send_due(now=None, owner="mss-worker"):
    """Submit the mails due at `now`; returns how many were sent."""
    now, config, sent = now or utcnow(), current_app.config, 0
    for mail in db.leased_due(MssMail, now, owner, LEASE, config["WORKER_QUEUE_SECONDS"]):
        settings = MssSettings.objects(structure=mail.structure).first()
        try:
            if settings is None:
                raise LookupError(NO_MAILBOX)
            transport.send(settings, _message(mail, settings))
        except (OSError, smtplib.SMTPException, ssl.SSLError, LookupError) as error:
            attempts = mail.attempts + 1
            reason = f"{type(error).__name__} : {error}"[:500]
            if _permanent(error) or attempts >= config.get("MSS_MAX_ATTEMPTS", 6):
                _finish(mail, owner, set__status="failed", set__attempts=attempts,
                        set__last_error=reason, set__done_at=utcnow())  # fmt: skip
                log.warning("MSSanté mail %s failed: %s", mail.id, reason)
            else:
                delay = retry_delay(attempts, config.get("MSS_RETRY_SECONDS", 60))
                _finish(mail, owner, set__attempts=attempts, set__last_error=reason,
                        set__next_attempt_at=now + delay)  # fmt: skip
            continue
        _finish(mail, owner, set__status="sent", set__attempts=mail.attempts + 1,
                set__done_at=utcnow(), unset__last_error=True)  # fmt: skip
        sent += 1
    return sent
