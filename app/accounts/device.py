"""The accounts used on this device, for "Changer de compte" on a shared computer: a signed
cookie with their names and e-mails (never a password or a session), so that the sign-in
page offers them with one tap; anyone can forget one there."""

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeSerializer

COOKIE = "parcours_comptes"
SALT = "parcours.accounts-on-device"
KEPT = 5
MAX_AGE = 60 * 60 * 24 * 90


def _serializer():
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def known():
    """[(user id, name, e-mail)], the latest used first."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return []
    try:
        found = _serializer().loads(raw)
    except BadSignature:
        return []
    return [tuple(item) for item in found if isinstance(item, list) and len(item) == 3][:KEPT]


def _write(response, accounts):
    if not accounts:
        response.delete_cookie(COOKIE)
        return response
    response.set_cookie(
        COOKIE, _serializer().dumps([list(a) for a in accounts[:KEPT]]), max_age=MAX_AGE,
        httponly=True, samesite="Lax", secure=current_app.config["SESSION_COOKIE_SECURE"],
    )  # fmt: skip
    return response


def remember(response, user):
    accounts = [a for a in known() if a[0] != str(user.id)]
    return _write(response, [(str(user.id), user.name, user.email), *accounts])


def forget(response, user_id):
    return _write(response, [a for a in known() if a[0] != user_id])
