"""The second factor: a time-based one-time code (TOTP, RFC 6238) from an authenticator app,
and recovery codes for the day the phone is lost.

A code is accepted once (the time step of the last one used is kept) and within one step of
the server's clock. Mandatory for platform and structure admins (ADMIN_TOTP_REQUIRED)."""

import hashlib
import hmac
import re
import secrets
import time

import pyotp
import segno
from flask import current_app

from app import audit
from app.accounts.models import User
from app.accounts.passwords import verify_password
from app.clock import utcnow
from app.sealing import seal, unseal
from app.validation import InvalidInput

ISSUER = "Parcours"
STEP = 30
RECOVERY_CODES = 8
BASE32 = re.compile(r"[A-Z2-7]+=*")
WRONG = "Ce code n'est pas le bon (ou il a déjà servi) : saisissez le code affiché maintenant."
REQUIRED = "La double authentification est obligatoire pour les administrateurs."


def new_secret():
    return pyotp.random_base32()


def qr_svg(user, secret):
    """The enrolment QR code, as inline SVG (no request leaves the page)."""
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    return segno.make(uri, error="m").svg_inline(scale=4, title="Code QR à scanner")


def required_for(user):
    """Whether `user` must have a second factor: the admins, when the setting says so."""
    if not current_app.config["ADMIN_TOTP_REQUIRED"]:
        return False
    return user.platform_admin or any("structure_admin" in m.roles for m in user.memberships)


def _digest(code):
    return hashlib.sha256(code.encode()).hexdigest()


def _matching_step(secret, code, last_step):
    """The time step `code` belongs to (now, or one step either side), if not used yet."""
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp, now_step = pyotp.TOTP(secret), int(time.time()) // STEP
    for step in (now_step, now_step - 1, now_step + 1):
        if step > (last_step or 0) and hmac.compare_digest(totp.at(step * STEP), code):
            return step
    return None


def enable(user, secret, code):
    """Turn the second factor on with the secret the user's app scanned, proven by a code;
    returns the recovery codes (shown once, kept hashed)."""
    step = _matching_step(secret, code or "", 0)
    if step is None:
        raise InvalidInput({"/code": WRONG}, WRONG)
    codes = [secrets.token_hex(5) for _ in range(RECOVERY_CODES)]
    User.objects(id=user.id).update_one(
        set__totp_secret=seal(secret), set__totp_step=step, set__totp_enabled_at=utcnow(),
        set__recovery_codes=[_digest(c) for c in codes],
    )  # fmt: skip
    user.reload()
    audit.record(user, "totp.enable", user)
    return codes


def disable(user, password):
    """Turn it off (not for an admin who must have it), with the password again."""
    if required_for(user):
        raise InvalidInput({"/password": REQUIRED}, REQUIRED)
    if not verify_password(user.password_hash, password or ""):
        message = "Mot de passe incorrect."
        raise InvalidInput({"/password": message}, message)
    User.objects(id=user.id).update_one(
        unset__totp_secret=True, unset__totp_step=True, unset__totp_enabled_at=True,
        set__recovery_codes=[],
    )  # fmt: skip
    user.reload()
    audit.record(user, "totp.disable", user)


def _secret_of(user):
    """The user's TOTP secret in clear. Sealed at rest; one enabled before sealing existed is
    stored in clear (base32 only: a sealed one never is) and still works."""
    return unseal(user.totp_secret, legacy=lambda value: BASE32.fullmatch(value) is not None)


def check(user, code):
    """Whether `code` is the user's current TOTP code (used up then) or one of their unused
    recovery codes (crossed out then). Each success and failure is audited."""
    code = (code or "").strip()
    step = _matching_step(_secret_of(user), code, user.totp_step)
    if step is not None:
        # Compare-and-set on the last step: a code replayed meanwhile is refused.
        used = User.objects(id=user.id, totp_step=user.totp_step).update_one(set__totp_step=step)
        if used:
            audit.record(user, "login.second_factor", user, method="totp")
            return True
    digest = _digest(code.lower())
    known = code and digest in (user.recovery_codes or [])
    # Crossed out with a condition that only one sign-in meets.
    if known and User.objects(id=user.id, recovery_codes=digest).update_one(
        pull__recovery_codes=digest
    ):
        audit.record(user, "login.second_factor", user, method="recovery_code",
                     left=len(user.recovery_codes) - 1)  # fmt: skip
        return True
    audit.record(user, "login.failure", user, reason="wrong_second_factor")
    return False
