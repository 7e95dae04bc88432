"""Invite a professional who has no account: an e-mail with a signed link that expires and
works once, a ready-made text to send some other way, the list of one's invitations.

The link carries {invitation id, nonce} signed with the platform's key (itsdangerous, timed):
a forged or altered link fails the signature; an old one fails its age; a used one finds its
invitation no longer "sent". Only the nonce's hash is stored.
"""

import hashlib
import secrets
from datetime import timedelta

from flask import current_app, render_template
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app import audit, policy
from app.accounts.models import User
from app.accounts.schemas import EMAIL, PROFESSION
from app.clock import utcnow
from app.directory.models import Professional
from app.discussions import services as discussions
from app.dossiers import services as dossiers
from app.errors import Conflict, NotFound, ServiceError
from app.invitations.models import Invitation
from app.notifications import mail
from app.validation import InvalidInput, check

SALT = "parcours.invitation"
VALID_FOR = timedelta(days=14)
PER_DAY = 50  # invitations one person may send in 24 hours
ID = {"type": "string", "minLength": 1, "maxLength": 40}
INVITATION = {
    "type": "object",
    "additionalProperties": False,
    "required": ["email", "name"],
    "properties": {
        "email": EMAIL,
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "profession": PROFESSION,
        "note": {"type": "string", "maxLength": 1000},
        "professional": {**ID, "description": "L'entrée de l'annuaire de la personne invitée"},
        "dossier": {**ID, "description": "Le dossier d'où l'on invite (cercle de soins)"},
        "conversation": {**ID, "description": "La conversation d'où l'on invite"},
    },
}


class LinkRefused(ServiceError):
    """An invitation link that cannot be used: forged (400), expired or used already (410)."""

    code = "invitation_refused"

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


FORGED = "Ce lien d'invitation n'est pas valide : vérifiez qu'il est complet."
EXPIRED = (
    "Ce lien d'invitation a expiré. Demandez à la personne qui vous a invité(e) de vous en "
    "envoyer un nouveau."
)
USED = "Ce lien d'invitation a déjà été utilisé : une demande de compte a été déposée avec lui."
REVOKED = "Cette invitation a été annulée par la personne qui l'avait envoyée."


def _serializer():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _digest(nonce):
    return hashlib.sha256(nonce.encode()).hexdigest()


def _context(actor, data):
    """(context, its id, the directory entry) from where the invitation is sent; each one
    must be something `actor` sees (404 otherwise, like elsewhere)."""
    professional = None
    if data.get("professional"):
        oid = dossiers.object_id(data["professional"])
        professional = Professional.objects(id=oid, active=True).first() if oid else None
        if professional is None:
            raise NotFound("Ce professionnel n'est pas dans l'annuaire.")
        if professional.user is not None:
            raise Conflict("Ce professionnel a déjà un compte : écrivez-lui directement.")
    if data.get("dossier"):
        dossier = dossiers.get_dossier(actor, data["dossier"], record=False)
        return "dossier", dossier.id, professional
    if data.get("conversation"):
        discussion, _ = discussions.get_discussion(actor, data["conversation"])
        return "conversation", discussion.id, professional
    if professional is not None:
        return "directory", professional.id, professional
    return "free", None, None


def invite(actor, data):
    """Create and send an invitation: (invitation, its link). A new invitation of the same
    person by the same inviter replaces the previous one (its link stops working)."""
    policy.require(actor, "invitation.create")
    data = check(INVITATION, data)
    email = data["email"].strip().lower()
    if User.objects(email=email).only("id").first():
        message = "Cette adresse est déjà celle d'un compte Parcours : écrivez-lui directement."
        raise InvalidInput({"/email": message}, message)
    now = utcnow()
    recent = Invitation.objects(inviter=actor.id, created_at__gt=now - timedelta(days=1))
    if recent.count() >= PER_DAY:
        raise Conflict(f"Vous avez envoyé {PER_DAY} invitations en 24 heures : réessayez demain.")
    context, context_id, professional = _context(actor, data)
    Invitation.objects(inviter=actor.id, email=email, status="sent").update(set__status="revoked")
    nonce = secrets.token_urlsafe(16)
    invitation = Invitation(
        email=email,
        name=data["name"].strip(),
        profession=data.get("profession"),
        note=(data.get("note") or "").strip() or None,
        context=context,
        context_id=context_id,
        professional=professional.id if professional else None,
        inviter=actor.id,
        inviter_name=actor.name,
        nonce_hash=_digest(nonce),
        created_at=now,
        expires_at=now + VALID_FOR,
    ).save()
    link = link_of(invitation, nonce)
    _send(invitation, link)
    audit.record(actor, "invitation.create", invitation, context=context)
    return invitation, link


def link_of(invitation, nonce):
    token = _serializer().dumps({"i": str(invitation.id), "n": nonce})
    return mail.external_url("onboarding.request_account", invitation=token)


def text_of(invitation, link):
    """The ready-made invitation, to paste in an SMS or a message of one's own."""
    return render_template("invitations/text.txt", invitation=invitation, link=link).strip()


def _send(invitation, link):
    """The e-mail: who invites, to what, the link. No patient, no dossier, even when the
    invitation comes from a circle of care; the inviter's note (free text) is shown on the
    page the link opens, never in a mailbox."""
    mail.queue_plain(
        f"invitation:{invitation.id}", invitation.email,
        f"{invitation.inviter_name} vous invite sur Parcours", "invitations/mail",
        invitation=invitation, link=link, days=VALID_FOR.days,
    )  # fmt: skip


def open_link(token):
    """The invitation a link stands for, if it may still be used; LinkRefused otherwise."""
    try:
        value = _serializer().loads(token or "", max_age=int(VALID_FOR.total_seconds()))
    except SignatureExpired:
        raise LinkRefused(EXPIRED, 410) from None
    except BadSignature:
        raise LinkRefused(FORGED) from None
    oid = dossiers.object_id(value.get("i")) if isinstance(value, dict) else None
    invitation = Invitation.objects(id=oid).first() if oid else None
    if invitation is None or not secrets.compare_digest(
        invitation.nonce_hash, _digest(str(value.get("n")))
    ):
        raise LinkRefused(FORGED)
    status = invitation.status_now(utcnow())
    if status != "sent":
        raise LinkRefused({"expired": EXPIRED, "accepted": USED, "revoked": REVOKED}[status], 410)
    return invitation


def use(invitation, account_request):
    """Mark the invitation used by `account_request`: True for the first use only."""
    return bool(
        Invitation.objects(id=invitation.id, status="sent", used_at=None).update_one(
            set__status="accepted", set__used_at=utcnow(), set__account_request=account_request.id
        )
    )


def mine(actor, limit=100):
    policy.require(actor, "invitation.create")
    return list(Invitation.objects(inviter=actor.id).order_by("-created_at").limit(limit))


def revoke(actor, invitation_id):
    oid = dossiers.object_id(invitation_id)
    invitation = Invitation.objects(id=oid).first() if oid else None
    if invitation is None or not policy.can(actor, "invitation.manage", invitation):
        raise NotFound("Cette invitation n'existe pas.")
    if not Invitation.objects(id=invitation.id, status="sent").update_one(set__status="revoked"):
        raise Conflict("Cette invitation n'est plus en attente.")
    audit.record(actor, "invitation.revoke", invitation)
    return invitation
