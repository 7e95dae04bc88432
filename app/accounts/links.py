"""Signed links that let someone choose their password without being signed in: the welcome
link of a new account and the "mot de passe oublié" link. A link names the account and its
session nonce: once the password is set (the nonce changes), the link no longer works."""

from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app import audit
from app.accounts import lockout, schemas
from app.accounts.models import User
from app.accounts.passwords import check_new_password, hash_password
from app.clock import utcnow
from app.dossiers.services import object_id
from app.errors import ServiceError
from app.notifications import mail
from app.validation import InvalidInput, check

SALT = "parcours.accounts.password-link"
VALID_FOR = {"welcome": timedelta(days=7), "reset": timedelta(hours=1)}
PASSWORD_SET = {
    "type": "object",
    "additionalProperties": False,
    "required": ["password", "confirmation"],
    "properties": {"password": schemas.PASSWORD, "confirmation": {"type": "string"}},
}


EXPIRED = "Ce lien a expiré : demandez-en un nouveau (« Mot de passe oublié »)."


class LinkRefused(ServiceError):
    code = "link_refused"

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


def _serializer():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def link_for(user, purpose):
    token = _serializer().dumps({"u": str(user.id), "n": user.session_nonce, "p": purpose})
    return mail.external_url("accounts.choose_password", token=token)


def user_of(token):
    """The account a link stands for, if it is still valid; LinkRefused otherwise."""
    try:
        value, signed_at = _serializer().loads(token, return_timestamp=True)
    except BadSignature:
        raise LinkRefused("Ce lien n'est pas valide : vérifiez qu'il est complet.") from None
    value = value if isinstance(value, dict) else {}
    valid_for = VALID_FOR.get(value.get("p"), VALID_FOR["reset"])
    if utcnow() - signed_at > valid_for:
        raise LinkRefused(EXPIRED, 410)
    user = User.objects(id=object_id(value.get("u"))).first() if object_id(value.get("u")) else None
    if user is None or user.session_nonce != value.get("n") or user.status != "active":
        raise LinkRefused("Ce lien a déjà servi ou n'est plus valable.", 410)
    return user


def choose_password(token, data):
    """Set the password of the link's account; the link then stops working."""
    user = user_of(token)
    data = check(PASSWORD_SET, data)
    check_new_password(data["password"], user.email, user.name)
    if data["password"] != data["confirmation"]:
        raise InvalidInput({"/confirmation": "Les deux mots de passe ne sont pas identiques."})
    user.password_hash = hash_password(data["password"])
    user.end_sessions()
    user.save()
    lockout.forget_account(user)  # the e-mail proved the owner: no address stays locked
    audit.record(user, "account.password_set", user)
    return user


def send_reset(email):
    """E-mail a "mot de passe oublié" link to the account of `email`, if there is one (the
    answer is the same either way: nobody learns who has an account)."""
    user = User.objects(email=(email or "").strip().lower(), status="active").first()
    if user is None:
        return
    mail.queue_plain(
        f"password-reset:{user.id}:{user.session_nonce}:{mail.new_message_id()}", user.email,
        "Choisir un nouveau mot de passe Parcours", "accounts/mail_reset",
        user=user, link=link_for(user, "reset"),
    )  # fmt: skip
    audit.record(user, "account.password_reset_requested", user)
