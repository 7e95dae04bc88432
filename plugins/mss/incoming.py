"""Receiving: the worker reads each structure's MSSanté mailbox over IMAP and files every
new mail once. A reply to a mail sent from a dossier goes to that dossier's thread (its
attachments become documents of the dossier); any other mail goes to a conversation of the
structure's coordinators with that address.

Nothing is lost: a mail stays in the mailbox (marked seen once filed); the last UID filed
is kept per mailbox (and its UIDVALIDITY); a mailbox that cannot be reached is tried again
at the next round. Each mail is filed once: a worker files it only after inserting its
claim (structure, UIDVALIDITY, UID), and a filing that fails takes its claim back."""

import email
import email.policy
import hashlib
import imaplib
import logging
import re
import ssl
from email.utils import parseaddr

from bson import ObjectId
from flask import current_app
from lxml import html as lxml_html
from mongoengine.errors import NotUniqueError

from app import policy
from app.accounts.models import User
from app.clock import utcnow
from app.discussions import services as discussions
from app.discussions.models import MAX_BODY
from app.dossiers import documents
from app.dossiers.models import Dossier
from app.validation import InvalidInput
from plugins.mss import transport
from plugins.mss.models import MssClaim, MssMail, MssMailbox, MssSettings
from plugins.mss.outgoing import conversation_with

log = logging.getLogger(__name__)

PER_ROUND = 200  # mails filed per mailbox and round; the rest at the next round
MESSAGE_IDS = re.compile(r"<[^<>\s]+>")


def max_bytes():
    return current_app.config.get("MSS_MAX_MAIL_BYTES", 30 * 1024 * 1024)


def receive_all(now=None):
    """One round over every configured mailbox; returns how many mails were filed."""
    filed = 0
    for settings in MssSettings.objects():
        state = MssMailbox.objects(structure=settings.structure).first()
        state = state or MssMailbox(structure=settings.structure)
        try:
            filed += receive(settings, state)
            state.last_error = None
        except (OSError, ssl.SSLError, imaplib.IMAP4.error) as error:
            state.last_error = f"{type(error).__name__} : {error}"[:500]
            log.warning("MSSanté mailbox of %s unreachable: %s", settings.structure, error)
        state.polled_at = now or utcnow()
        state.save()
    return filed


def _new_uids(imap, state):
    validity = (imap.untagged_responses.get("UIDVALIDITY") or [b""])[-1].decode()
    if validity != state.uidvalidity:  # a new mailbox, or renumbered: start again
        state.uidvalidity, state.last_uid = validity, 0
    status, data = imap.uid("SEARCH", None, f"UID {state.last_uid + 1}:*")
    if status != "OK":
        raise imaplib.IMAP4.error(f"SEARCH failed: {data!r}")
    # "n:*" names the last mail even when its UID is below n.
    return sorted(u for u in map(int, (data[0] or b"").split()) if u > state.last_uid)


def _fetch(imap, uid, item):
    status, data = imap.uid("FETCH", str(uid), item)
    parts = [p for p in data or () if isinstance(p, tuple)]
    if status != "OK" or not parts:
        raise imaplib.IMAP4.error(f"FETCH {item} of UID {uid} failed")
    return parts[0]


def _size(imap, uid):
    status, data = imap.uid("FETCH", str(uid), "(RFC822.SIZE)")
    found = re.search(rb"RFC822\.SIZE (\d+)", b" ".join(
        p if isinstance(p, bytes) else p[0] for p in data or () if p))  # fmt: skip
    if status != "OK" or not found:
        raise imaplib.IMAP4.error(f"FETCH RFC822.SIZE of UID {uid} failed")
    return int(found.group(1))


def receive(settings, state):
    filed = 0
    with transport.mailbox(settings) as imap:
        for uid in _new_uids(imap, state)[:PER_ROUND]:
            size = _size(imap, uid)
            key = f"{settings.structure}:{state.uidvalidity}:{uid}"
            try:
                claim = MssClaim(id=key, at=utcnow()).save(force_insert=True)
            except NotUniqueError:  # filed by another worker, or before
                state.last_uid = uid
                continue
            try:
                if size > max_bytes():
                    _, raw = _fetch(imap, uid, "(BODY.PEEK[HEADER])")
                    mail = file_mail(settings, raw, key, too_big=size)
                else:
                    _, raw = _fetch(imap, uid, "(BODY.PEEK[])")
                    mail = file_mail(settings, raw, key)
            except Exception:
                claim.delete()  # not filed: the next round tries again
                raise
            claim.update(set__mail=mail.id)
            imap.uid("STORE", str(uid), "+FLAGS", "(\\Seen)")
            state.last_uid = uid
            state.save()
            filed += 1
    return filed


# --- reading a mail ------------------------------------------------------------------------------


def _text(message):
    """The mail's words: its text part, else its HTML part as text."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    if part.get_content_subtype() == "html":
        content = lxml_html.fromstring(content or "<p></p>").text_content()
    return content.strip()


def _files(message):
    found = []
    for part in message.iter_attachments():
        name = part.get_filename() or "piece-jointe"
        found.append((part.get_payload(decode=True) or b"", name))
    return found


def parse(raw, headers_only=False):
    """(sender address, sender name, subject, message id, ids it answers, text, files,
    problems); what cannot be read is a problem, never an exception."""
    problems = []
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        name, address = parseaddr(str(message.get("From", "")))
        subject = str(message.get("Subject", "") or "")
        message_id = str(message.get("Message-ID", "") or "").strip()
        answered = MESSAGE_IDS.findall(
            f"{message.get('In-Reply-To', '')} {message.get('References', '')}"
        )
    except Exception:  # noqa: BLE001 - headers beyond repair: file what the bytes say
        message, name, address, subject, message_id, answered = None, "", "", "", "", []
        problems.append("en-têtes illisibles")
    text, files = "", []
    if message is not None and not headers_only:
        try:
            text = _text(message)
            files = _files(message)
        except Exception:  # noqa: BLE001 - a broken MIME structure is a problem to report
            problems.append("structure MIME invalide : le contenu n'a pas pu être lu")
        if message.defects and not problems:
            problems.append("structure MIME irrégulière : le contenu peut être incomplet")
    return (address.lower(), name, subject, message_id, answered, text, files, problems)


def _sender(address, name):
    digest = hashlib.sha256(f"mss:{address}".encode()).digest()[:12]
    label = f"{name} <{address}>" if name else address or "expéditeur inconnu"
    return policy.ExternalSender(id=ObjectId(digest), name=f"{label} (MSSanté)", email=address)


def _where(settings, address, answered):
    """(discussion, dossier) where the mail goes."""
    if answered:
        found = [m for m in MssMail.objects(message_id__in=answered)
                 if m.structure == settings.structure and m.direction == "out"]  # fmt: skip
        sent = max(found, key=lambda m: m.created_at, default=None)
        if sent is not None and sent.dossier is not None:
            dossier = Dossier.objects(id=sent.dossier).first()
            if dossier is not None and dossier.consent_active:
                return discussions.dossier_thread(policy.SYSTEM, dossier), dossier
        elif sent is not None and sent.discussion is not None:
            found = discussions.Discussion.objects(id=sent.discussion).first()
            if found is not None:
                return found, None
    return conversation_with(settings.structure, address, _team(settings.structure)), None


def _team(structure):
    """Who reads the structure's mail: its coordinators, else its admins."""
    for role in ("coordinator", "structure_admin"):
        found = list(User.objects(memberships__match={"structure": structure, "roles": role},
                                  status="active").scalar("id"))  # fmt: skip
        if found:
            return found
    return []


def _accepted(files, notes):
    """The attachments that may be stored (the documents' own rules), at most 5."""
    kept = []
    for content, name in files:
        try:
            documents.inspect(content, name)
        except InvalidInput as refused:
            notes.append(f"pièce jointe « {name[:80]} » non importée : {refused.message}")
            continue
        if len(kept) == discussions.MAX_FILES:
            notes.append(f"pièce jointe « {name[:80]} » non importée : au plus "
                         f"{discussions.MAX_FILES} par message")  # fmt: skip
            continue
        kept.append((content, name))
    return kept


def file_mail(settings, raw, key, too_big=None):
    """File one mail (its bytes, or only its headers when it is too big); returns the
    MssMail that records it."""
    address, name, subject, message_id, answered, text, files, notes = parse(raw, too_big)
    if too_big:
        notes.append(
            f"message de {too_big / 1048576:.1f} Mo, au-delà de la limite de "
            f"{max_bytes() / 1048576:.0f} Mo : il reste dans la boîte aux lettres MSSanté de "
            f"la structure ({settings.address}), à y consulter"
        )
    kept = _accepted(files, notes)
    discussion, dossier = _where(settings, address, answered)
    lines = [f"Reçu par MSSanté — « {subject or 'sans objet'} »"]
    lines += [f"Attention : {note}." for note in notes]
    head = "\n".join(lines) + "\n\n"
    body = head + text[: MAX_BODY - len(head) - 20]
    if len(head) + len(text) > MAX_BODY - 20:
        body += "\n[…] (tronqué)"
    sender = _sender(address, name)
    discussions.post(sender, discussion, dossier, body, files=kept, category="administratif")
    return MssMail(
        direction="in", structure=settings.structure, discussion=discussion.id,
        dossier=dossier.id if dossier else None, address=address or None,
        subject=subject[:200], message_id=message_id or None, status="filed", uid=key,
        note="; ".join(notes) or None, done_at=utcnow(),
    ).save()  # fmt: skip
