"""What a verified OpenID Connect sign-in means to Parcours.

The provider vouches for a national number (the claim OIDC_RPPS_CLAIM: an RPPS or ADELI
number, or Pro Santé Connect's idNat_PS that wraps one); the directory entry bearing it names
the account (`Professional.user`). Without an account, the person is offered the account
request, prefilled. Every outcome is audited as a password sign-in is, with method "oidc"."""

import re
from dataclasses import dataclass, field

from app import audit
from app.accounts import services as accounts
from app.accounts.models import User
from app.clock import utcnow
from app.directory.models import Professional
from app.reference import PROFESSIONS
from plugins.oidc import protocol
from plugins.oidc.protocol import SignInRefused

METHOD = "oidc"
NO_NUMBER = (
    "{name} n'a pas transmis votre numéro RPPS ou ADELI (donnée « {claim} ») : Parcours ne "
    "peut pas retrouver votre compte. Connectez-vous avec votre adresse e-mail et votre mot "
    "de passe."
)
SEVERAL = (
    "Plusieurs comptes Parcours sont rattachés au numéro {number} : écrivez à l'équipe de la "
    "plateforme pour qu'elle corrige l'annuaire. En attendant, connectez-vous avec votre "
    "adresse e-mail et votre mot de passe."
)
NO_ENTRY = (
    "Aucun compte Parcours n'est rattaché au numéro {number} que {name} nous a transmis. "
    "Demandez un compte : le formulaire ci-dessous reprend ce que {name} nous a transmis ; "
    "complétez-le, l'équipe de la plateforme vérifiera votre demande."
)
NO_ACCOUNT = (
    "Vous figurez dans l'annuaire de Parcours (numéro {number}), mais sans compte. Demandez "
    "un compte : le formulaire ci-dessous reprend ce que {name} nous a transmis ; "
    "complétez-le, l'équipe de la plateforme vérifiera votre demande."
)


@dataclass
class Outcome:
    """The account to sign in, or else the account request to offer (values and message)."""

    user: User | None = None
    prefill: dict = field(default_factory=dict)
    message: str = ""
    id_token: str = ""  # kept in the session, to end the provider's session at sign-out


def national_number(value):
    """The RPPS (11 digits) or ADELI (9) number a claim holds: as is, or inside Pro Santé
    Connect's national identifier of the professional (idNat_PS: "8" + RPPS, "0" + ADELI)."""
    value = value.strip() if isinstance(value, str) else ""
    if not re.fullmatch(r"[0-9]{9,12}", value):
        return None
    if len(value) in (9, 11):
        return value
    prefix = {12: "8", 10: "0"}[len(value)]
    return value[1:] if value[0] == prefix else None


def sign_in(config, pending, args, redirect_uri):
    """What the provider's answer at the callback (`args`, matching `pending`) leads to: the
    account it signs in (active, audited `login.success`), or the account request to offer.
    Raise SignInRefused or LoginFailed (audited `login.failure`) otherwise."""
    try:
        claims, id_token = protocol.verified_claims(config, pending, args, redirect_uri)
        claim = config["OIDC_RPPS_CLAIM"]
        number = national_number(claims.get(claim))
        if number is None:
            raise SignInRefused(config, NO_NUMBER, "no_number", claim=claim)
        entries = list(Professional.objects(rpps=number))
        user_ids = {entry.user for entry in entries if entry.user}
        if len(user_ids) > 1:
            raise SignInRefused(config, SEVERAL, "several_accounts", 409, number=number)
    except SignInRefused as refused:
        audit.record(None, "login.failure", object_type="User", method=METHOD,
                     reason=refused.reason)  # fmt: skip
        raise
    user = User.objects(id=user_ids.pop()).first() if user_ids else None
    if user is None:
        audit.record(None, "login.failure", object_type="User", method=METHOD,
                     reason="no_account", rpps=number)  # fmt: skip
        message = (NO_ACCOUNT if entries else NO_ENTRY).format(name=config["OIDC_NAME"],
                                                               number=number)  # fmt: skip
        return Outcome(prefill=_prefill(claims, number, entries), message=message)
    accounts.require_active(user, method=METHOD)
    now = utcnow()
    User.objects(id=user.id).update_one(set__last_login_at=now)
    user.last_login_at = now
    audit.record(user, "login.success", user, method=METHOD)
    return Outcome(user=user, id_token=id_token)


def _prefill(claims, number, entries):
    """The account request's first values: the provider's names (else the directory
    entry's) and e-mail; the entry's profession and first place of work."""
    entry = entries[0] if entries else Professional(last_name="")
    values = {
        "last_name": claims.get("family_name") or entry.last_name,
        "first_name": claims.get("given_name") or entry.first_name,
        "email": claims.get("email"),  # not the entry's: it may be a shared secretariat's
        "rpps": number,
        "profession": entry.profession if entry.profession in PROFESSIONS else None,
        "structure_name": entry.sites[0].name if entry.sites else None,
    }
    return {key: str(value)[:254] for key, value in values.items() if value}
