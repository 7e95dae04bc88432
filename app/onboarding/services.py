"""The public account request: typed by the professional (prefilled by an invitation), the
e-mail address confirmed by a signed link (an invitation's link proves it already), then
pre-checked against the directory and handed to the platform team on `demande_compte`."""

from datetime import timedelta

from bson import ObjectId
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app import audit, policy, signals
from app.accounts import links
from app.accounts.models import User
from app.accounts.schemas import EMAIL, PHONE, PROFESSION
from app.clock import utcnow
from app.db import save_unique
from app.directory.models import Professional
from app.dossiers.services import object_id
from app.errors import Conflict, NotFound
from app.invitations import services as invitations
from app.notifications import mail
from app.onboarding.models import AccountRequest
from app.pathways import events, instances
from app.pathways import services as pathway_services
from app.reference import PROFESSIONS
from app.text import fold
from app.validation import InvalidInput, check

SALT = "parcours.account-request.confirm"
CONFIRM_WITHIN = timedelta(days=2)
PROCESS = "demande_compte"
NAME = {"type": "string", "minLength": 1, "maxLength": 100}
REQUEST = {
    "type": "object",
    "additionalProperties": False,
    "required": ["last_name", "first_name", "email", "profession", "structure_name"],
    "properties": {
        "last_name": NAME,
        "first_name": NAME,
        "email": EMAIL,
        "profession": PROFESSION,
        "rpps": {
            "type": "string",
            "pattern": r"^([0-9]{9}|[0-9]{11})$",
            "description": "RPPS (11 chiffres) ou ADELI (9 chiffres)",
        },
        "structure_name": {"type": "string", "minLength": 1, "maxLength": 200},
        "phone": PHONE,
        "message": {"type": "string", "maxLength": 2000},
    },
}
TAKEN = (
    "Un compte existe déjà avec cette adresse : connectez-vous, ou réinitialisez votre mot "
    "de passe."
)
NUMBER_REQUIRED = "Le numéro RPPS ou ADELI est obligatoire pour cette profession."
NUMBER_FORMAT = "Le numéro RPPS compte 11 chiffres, le numéro ADELI 9 chiffres."
NUMBER_LINKED = (
    "Ce numéro est déjà rattaché à un compte : connectez-vous, ou écrivez à l'équipe de la "
    "plateforme si ce n'est pas le vôtre."
)


def _number_errors(data):
    """The RPPS/ADELI number: required for the professions the RPPS lists (their codes are
    numbers), 11 or 9 digits, and not already someone's account."""
    number, profession = data.get("rpps") or "", data.get("profession") or ""
    if not number:
        needed = profession in PROFESSIONS and profession.isdigit()
        return {"/rpps": NUMBER_REQUIRED} if needed else {}
    if not (isinstance(number, str) and number.isdigit() and len(number) in (9, 11)):
        return {"/rpps": NUMBER_FORMAT}
    entries = Professional.objects(rpps=number).only("user")
    return {"/rpps": NUMBER_LINKED} if any(e.user for e in entries) else {}


def prefill(invitation):
    """The form's first values from an invitation."""
    last, _, first = invitation.name.partition(" ")
    return {"email": invitation.email, "last_name": last, "first_name": first,
            "profession": invitation.profession or ""}  # fmt: skip


def submit(data, invitation=None):
    """Record a request. With an invitation whose address is kept, the address is proven and
    the request goes to the platform team at once; otherwise a confirmation link is sent."""
    data = {k: v.strip() if isinstance(v, str) else v for k, v in data.items()}
    data = {k: v for k, v in data.items() if v != "" or k not in ("rpps", "phone", "message")}
    numbers = _number_errors(data)
    try:
        data = check(REQUEST, data)
    except InvalidInput as refused:
        raise InvalidInput({**refused.fields, **numbers}, refused.message) from None
    if numbers:
        raise InvalidInput(numbers)
    email = data["email"].lower()
    if User.objects(email=email).only("id").first():
        raise InvalidInput({"/email": TAKEN}, TAKEN)
    proven = invitation is not None and invitation.email == email
    request = AccountRequest(
        id=ObjectId(),
        email=email,
        last_name=data["last_name"],
        first_name=data["first_name"],
        profession=data["profession"],
        rpps=data.get("rpps"),
        structure_name=data["structure_name"],
        phone=data.get("phone"),
        message=data.get("message"),
        invitation=invitation.id if invitation else None,
        invited_by=invitation.inviter if invitation else None,
        email_confirmed_at=utcnow() if proven else None,
    )
    if invitation is not None and not invitations.use(invitation, request):
        raise invitations.LinkRefused(invitations.USED, 410)
    request.save(force_insert=True)
    audit.record(policy.SYSTEM, "account_request.create", request, invited=bool(invitation))
    if proven:
        _hand_over(request)
    else:
        _send_confirmation(request)
    return request


def _serializer():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _send_confirmation(request):
    link = mail.external_url("onboarding.confirm", token=_serializer().dumps(str(request.id)))
    mail.queue_plain(
        f"account-request-confirm:{request.id}", request.email,
        "Confirmez votre adresse e-mail pour Parcours", "onboarding/confirm_mail",
        request=request, link=link, hours=int(CONFIRM_WITHIN.total_seconds() // 3600),
        follow=follow_link(request),
    )  # fmt: skip


def confirm(token):
    """The confirmation link was opened: the request goes to the platform team (once)."""
    try:
        request_id = _serializer().loads(token or "", max_age=int(CONFIRM_WITHIN.total_seconds()))
    except SignatureExpired:
        raise invitations.LinkRefused(
            "Ce lien de confirmation a expiré : déposez votre demande à nouveau.", 410
        ) from None
    except BadSignature:
        raise invitations.LinkRefused("Ce lien de confirmation n'est pas valide.") from None
    request = AccountRequest.objects(id=request_id).first()
    if request is None:
        raise NotFound("Cette demande n'existe pas.")
    confirmed = AccountRequest.objects(id=request.id, email_confirmed_at=None).update_one(
        set__email_confirmed_at=utcnow(), set__updated_at=utcnow()
    )
    if confirmed:
        request.reload()
        _hand_over(request)
    return request


def pre_verified(request):
    """Whether the directory knows this number under this name: "identité pré-vérifiée"."""
    if not request.rpps:
        return False
    found = Professional.objects(rpps=request.rpps, active=True).only("last_name").first()
    return found is not None and fold(found.last_name) == fold(request.last_name)


def _hand_over(request):
    """Start the platform team's `demande_compte` process on the request."""
    AccountRequest.objects(id=request.id).update_one(
        set__status="submitted", set__updated_at=utcnow()
    )
    request.status = "submitted"
    try:
        _start_process(request)
    except NotFound:  # not deployed: `parcours install` was not run; the request waits
        current_app.logger.error("account request %s: %s is not deployed", request.id, PROCESS)


def _start_process(request):
    instances.start_for_subject(
        policy.SYSTEM,
        PROCESS,
        f"account_request:{request.id}",
        {"demande": {"nom": request.last_name, "prenom": request.first_name,
                     "profession": request.profession, "rpps": request.rpps or "",
                     "structure": request.structure_name,
                     "identite_pre_verifiee": pre_verified(request)}},
    )  # fmt: skip


# --- following a request, the platform team's decisions ---------------------------------------

FOLLOW_SALT = "parcours.account-request.follow"
SUBJECT = "account_request:"
ANSWER = {
    "type": "object",
    "additionalProperties": False,
    "required": ["text"],
    "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 2000, "pattern": r"\S"}},
}


def follow_link(request, external=True):
    """The requester's page for their request: its status, what the team asks, the answer."""
    token = URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=FOLLOW_SALT).dumps(
        str(request.id)
    )
    if external:
        return mail.external_url("onboarding.follow", token=token)
    return mail.path_for("onboarding.follow", token=token)


def request_of_link(token):
    try:
        request_id = URLSafeTimedSerializer(
            current_app.config["SECRET_KEY"], salt=FOLLOW_SALT
        ).loads(token)
    except BadSignature:
        raise invitations.LinkRefused("Ce lien de suivi n'est pas valide.") from None
    request = AccountRequest.objects(id=request_id).first()
    if request is None:
        raise NotFound("Cette demande n'existe pas.")
    return request


def answer(request, data):
    """The requester answers the team's questions: the process goes on with it."""
    data = check(ANSWER, data)
    if request.status != "more_info":
        raise invitations.LinkRefused("Cette demande n'attend pas de réponse.", 409)
    exchange = {"at": utcnow(), "by": "demandeur", "text": data["text"].strip()}
    moved = AccountRequest.objects(id=request.id, status="more_info").update_one(
        push__exchanges=exchange, set__status="submitted", set__updated_at=utcnow()
    )
    if not moved:
        raise invitations.LinkRefused("Cette demande n'attend pas de réponse.", 409)
    events.deliver_to_subject(
        policy.SYSTEM, f"{SUBJECT}{request.id}", "complements_demande_compte",
        {"reponse": exchange["text"]},
    )  # fmt: skip
    audit.record(policy.SYSTEM, "account_request.answer", request)
    request.reload()
    return request


@signals.task_completed.connect
def _decided(actor, task, instance, data, **extra):
    """The platform team decided on a request (the form verification_compte of
    demande_compte): accept (the account is made), ask for more, or refuse."""
    if not (instance.subject or "").startswith(SUBJECT) or task.form_key != "verification_compte":
        return
    request = _request_of(instance.subject)
    if request is None:
        return
    decision, reason = data.get("decision"), (data.get("motif") or "").strip()
    if decision == "accepter":
        _accept(actor, request)
        return
    status = "more_info" if decision == "completer" else "refused"
    exchange = {"at": utcnow(), "by": "equipe", "text": reason}
    AccountRequest.objects(id=request.id).update_one(
        set__status=status, push__exchanges=exchange, set__updated_at=utcnow()
    )
    subject = ("Votre demande de compte : informations demandées"
               if status == "more_info" else "Votre demande de compte Parcours")  # fmt: skip
    mail.queue_plain(
        f"account-request-{status}:{request.id}:{len(request.exchanges)}", request.email,
        subject, "onboarding/decision_mail", request=request, status=status,
        link=follow_link(request),
    )  # fmt: skip


def _accept(actor, request):
    """The account, linked to its directory entry (made if the directory has none), and the
    welcome e-mail with the link to choose a password."""
    name = f"{request.first_name} {request.last_name}"
    user = User(
        email=request.email,
        name=name,
        profession=request.profession if request.profession in PROFESSIONS else None,
        status="active",
    )
    save_unique(user, Conflict("Un compte existe déjà avec cette adresse."), insert=True)
    entry = Professional.objects(rpps=request.rpps).first() if request.rpps else None
    if entry is None:
        entry = Professional(
            rpps=request.rpps, last_name=request.last_name, first_name=request.first_name,
            profession=request.profession, email=request.email, source="manual",
            created_by=str(actor.id),
        )  # fmt: skip
    entry.user = user.id
    entry.save()
    AccountRequest.objects(id=request.id).update_one(
        set__status="accepted", set__user=user.id, set__updated_at=utcnow()
    )
    audit.record(actor, "account_request.accept", request, user=str(user.id))
    mail.queue_plain(
        f"welcome:{user.id}", user.email, "Bienvenue sur Parcours", "onboarding/welcome_mail",
        user=user, link=links.link_for(user, "welcome"),
    )  # fmt: skip


@signals.pathway_completed.connect
def _filed(instance, dossier, data, **extra):
    """No answer to the team's questions within 30 days: the request is filed."""
    request = _request_of(instance.subject)
    if request is not None and request.status == "more_info":
        AccountRequest.objects(id=request.id, status="more_info").update_one(
            set__status="closed", set__updated_at=utcnow()
        )


def _request_of(subject):
    """The AccountRequest a process's subject names, or None."""
    if not (subject or "").startswith(SUBJECT):
        return None
    oid = object_id(subject.removeprefix(SUBJECT))
    return AccountRequest.objects(id=oid).first() if oid else None


def _panel(request_id):
    """The request, on the platform team's task page."""
    request = (
        AccountRequest.objects(id=object_id(request_id)).first() if object_id(request_id) else None
    )
    if request is None:
        return None
    entry = Professional.objects(rpps=request.rpps).first() if request.rpps else None
    return "onboarding/_panel.html", {"request": request, "entry": entry,
                                      "pre_verified": pre_verified(request)}  # fmt: skip


pathway_services.SUBJECT_PANELS["account_request"] = _panel
