"""Accounts: sign-in, profiles, administration of users, personal API tokens."""

import hashlib
import secrets
from datetime import timedelta

from bson import ObjectId
from bson.errors import InvalidId

from app import audit, policy, text
from app.accounts import lockout, schemas
from app.accounts.models import ApiToken, Membership, OpenSession, User, session_key
from app.accounts.passwords import (
    check_new_password,
    hash_password,
    needs_rehash,
    verify_password,
)
from app.clock import utcnow
from app.db import save_unique
from app.errors import Conflict, Forbidden, NotFound, ServiceError
from app.structures.models import Structure
from app.validation import InvalidInput, check

TOKEN_PREFIX = "prc_"  # noqa: S105 - a marker, not a secret
# A token's last use is written at most this often, not on every request.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=5)
# The sessions an account keeps open at once (phone, office, home…): a new one past it ends
# the oldest.
MAX_SESSIONS = 10
DUPLICATE_EMAIL = "Un compte existe déjà avec cette adresse e-mail."
BAD_CREDENTIALS = "Adresse e-mail ou mot de passe incorrect."
# What one may not change about oneself: the verified facts, and one's roles.
OWN_IDENTITY = {
    "name": "Votre nom est vérifié par l'équipe de la plateforme : vous ne pouvez pas le "
    "changer vous-même. Écrivez-lui pour le faire corriger.",
    "profession": "Votre profession est vérifiée par l'équipe de la plateforme : vous ne "
    "pouvez pas la changer vous-même. Écrivez-lui pour la faire corriger.",
}
OWN_ROLES = (
    "Vous ne pouvez pas changer vos propres rôles : un autre administrateur de la structure "
    "ou l'équipe de la plateforme le fait."
)
REASON_REQUIRED = "Indiquez le motif du changement de profession."
REASON_UNUSED = "Le motif accompagne un changement de nom ou de profession."


class LoginFailed(ServiceError):
    status = 401
    code = "login_failed"
    message = BAD_CREDENTIALS


def _duplicate_email():
    return Conflict(DUPLICATE_EMAIL, fields={"/email": DUPLICATE_EMAIL})


def normalize_email(email):
    return (email or "").strip().lower()


def clean_input(data):
    """Trim strings and normalise the e-mail before validation; anything else is left for
    validation to refuse (null, `{}` or `[]` must not pass for an empty e-mail)."""
    cleaned = {
        k: v.strip() if isinstance(v, str) and "password" not in k else v for k, v in data.items()
    }
    if isinstance(cleaned.get("email"), str):
        cleaned["email"] = normalize_email(cleaned["email"])
    return cleaned


# --- sign-in -------------------------------------------------------------------------------


def authenticate(email, password, address):
    """Return the active user with these credentials, or raise LoginFailed (French message).
    Failures count per account and client `address` (app/accounts/lockout.py); a locked pair,
    a wrong password and an unknown account get the same answer, at the same cost."""
    user = User.objects(email=normalize_email(email)).first()
    if user is None:
        verify_password(None, password or "")  # same cost as a wrong password
        audit.record(
            None,
            "login.failure",
            object_type="User",
            email=normalize_email(email)[:254],
            reason="unknown_email",
        )
        raise LoginFailed()
    now = utcnow()
    attempt = lockout.attempt(user, address, now)
    right = verify_password(user.password_hash, password or "")  # locked or not: same cost
    if attempt.locked(now):
        audit.record(user, "login.failure", user, reason="locked")
        raise LoginFailed()
    if not right:
        lockout.count_failure(user, attempt, now)
        audit.record(user, "login.failure", user, reason="wrong_password")
        raise LoginFailed()
    require_active(user)
    updates = {"last_login_at": now}
    if needs_rehash(user.password_hash):
        updates["password_hash"] = hash_password(password)
    User.objects(id=user.id).update_one(**{f"set__{k}": v for k, v in updates.items()})
    for field, value in updates.items():
        setattr(user, field, value)
    lockout.forget(attempt)
    audit.record(user, "login.success", user)
    return user


def require_active(user, **details):
    """Refuse an account that may not sign in, however it proved who it is (a password, a
    sign-in plugin): suspended, or not verified yet. The refusal is audited with `details`."""
    if user.status == "active":
        return
    audit.record(user, "login.failure", user, reason=f"status_{user.status}", **details)
    raise LoginFailed(
        "Ce compte est suspendu. Contactez l'administrateur de la plateforme."
        if user.status == "suspended"
        else "Ce compte n'est pas encore activé. Il doit être vérifié par l'équipe de la "
        "plateforme."
    )


# --- sessions --------------------------------------------------------------------------------


def open_session(user):
    """Record a new session of `user`, who has just signed in; return its id, for the session
    cookie only. The account keeps its latest MAX_SESSIONS sessions: an older one ends."""
    session_id = secrets.token_urlsafe(32)
    opened = OpenSession(key=session_key(session_id)).to_mongo()
    User._get_collection().update_one(
        {"_id": user.id},
        {"$push": {"sessions": {"$each": [opened], "$slice": -MAX_SESSIONS}}},
    )
    return session_id


def close_session(user, session_id, **details):
    """Sign out: the session `session_id` of `user` ends, every copy of its cookie with it."""
    if session_id:
        User._get_collection().update_one(
            {"_id": user.id}, {"$pull": {"sessions": {"key": session_key(session_id)}}}
        )
    audit.record(user, "logout", user, **details)


def close_all_sessions(actor):
    """Sign out everywhere: every session of the account ends, on every device (its API
    tokens stay: they are revoked one by one)."""
    policy.require(actor, "profile.edit", actor)
    actor.end_sessions()
    User.objects(id=actor.id).update_one(set__session_nonce=actor.session_nonce, set__sessions=[])
    audit.record(actor, "logout.everywhere", actor)


def signing_in_user(user_and_nonce):
    """The active account that `id:nonce` (User.get_id()) names while its nonce holds: the
    account between its password and its second factor's code."""
    user_id, _, nonce = (user_and_nonce or "").partition(":")
    user = find_user(user_id)
    if user is None or user.session_nonce != nonce or not user.is_active:
        return None
    return user


def load_session_user(user_and_nonce, session_id):
    """The account of a session cookie (`id:nonce` and the session's id), if that session is
    still open on it: a changed nonce, an inactive account or a closed session end it."""
    user = signing_in_user(user_and_nonce)
    if user is None or not session_id:
        return None
    key = session_key(session_id)
    return user if any(opened.key == key for opened in user.sessions) else None


# --- users -----------------------------------------------------------------------------------


def find_user(user_id):
    try:
        return User.objects(id=ObjectId(user_id)).first()
    except (InvalidId, TypeError):
        return None


def get_user(actor, user_id):
    user = find_user(user_id)
    if user is None:
        raise NotFound("Ce compte n'existe pas.")
    policy.require(actor, "user.view", user)
    return user


# Past these no account can match and no page can exist: answer nothing.
MAX_QUERY = 254
MAX_PAGE = 1_000_000


def list_users(actor, query="", page=1, per_page=50):
    """Accounts by name; with `query`, those whose name or e-mail words start with its words."""
    policy.require(actor, "user.list")
    if len(query) > MAX_QUERY or page > MAX_PAGE:
        return []
    start = (page - 1) * per_page
    wanted = text.tokens(query)
    if not query.strip():
        return list(User.objects.order_by("name").skip(start).limit(per_page))
    if not wanted:
        return []  # only punctuation: no word to look for
    # The longest word is likely the most selective: its prefix range on the index gives the
    # candidates (ids, names and keys only), the other words filter them, the page is loaded.
    longest = max(wanted, key=len)
    candidates = User.objects(__raw__={"search_keys": text.prefix_range(longest)})
    found = [
        u
        for u in candidates.only("id", "name", "search_keys")
        if text.matches_all(u.search_keys, wanted)
    ]
    found.sort(key=lambda user: text.fold(user.name))
    ids = [user.id for user in found[start : start + per_page]]
    users = {user.id: user for user in User.objects(id__in=ids)} if ids else {}
    return [users[i] for i in ids if i in users]


def resolve_memberships(items, pointer="/memberships"):
    """Turn [{structure: key, roles}] into Membership documents, in one query."""
    keys = [item["structure"] for item in items]
    structures = {s.key: s for s in Structure.objects(key__in=keys).only("id", "key", "active")}
    errors = {}
    for index, key in enumerate(keys):
        if key not in structures:
            errors[f"{pointer}/{index}/structure"] = "Cette structure n'existe pas."
        elif keys.index(key) != index:
            errors[f"{pointer}/{index}/structure"] = "Cette structure figure deux fois."
    if errors:
        raise InvalidInput(errors)
    return [Membership(structure=structures[i["structure"]].id, roles=i["roles"]) for i in items]


def create_user(actor, data):
    policy.require(actor, "user.create")
    data = check(schemas.USER_CREATE, clean_input(data))
    memberships = resolve_memberships(data.get("memberships", []))
    return insert_user(actor, data, memberships)


def insert_user(actor, data, memberships):
    check_new_password(data["password"], data["email"], data["name"])
    user = User(
        email=data["email"],
        name=data["name"],
        profession=data.get("profession"),
        phone=data.get("phone"),
        platform_admin=data.get("platform_admin", False),
        status=data.get("status", "active"),
        memberships=memberships,
        password_hash=hash_password(data["password"]),
    )
    save_unique(user, _duplicate_email(), insert=True)
    audit.record(actor, "user.create", user, email=user.email, memberships=_describe(memberships))
    return user


def _describe(memberships):
    return [{"structure": str(m.structure), "roles": list(m.roles)} for m in memberships]


def require_identity_change(actor, user, data):
    """The verified facts (name, profession) that `data` changes on `user`; Forbidden, with a
    message per field, if `actor` may not change them (on their own account)."""
    changed = [f for f in OWN_IDENTITY if f in data and data[f] != getattr(user, f)]
    if changed and not policy.can(actor, "user.set_identity", user):
        messages = {f"/{field}": OWN_IDENTITY[field] for field in changed}
        raise Forbidden(" ".join(messages.values()), fields=messages)
    return changed


def _roles_by_structure(memberships):
    return {m.structure: sorted(m.roles) for m in memberships}


def update_user(actor, user, data):
    """Change an account (platform admin): identity, status, admin flag, memberships, password.
    A change of profession needs a reason (audited); nobody changes their own name,
    profession or memberships."""
    policy.require(actor, "user.edit", user)
    data = check(schemas.USER_UPDATE, clean_input(data))
    demotes_self = data.get("platform_admin") is False or data.get("status", "active") != "active"
    if actor is not policy.SYSTEM and user.id == actor.id and demotes_self:
        raise InvalidInput(
            {
                "/status": "Vous ne pouvez pas suspendre votre propre compte ni retirer vos "
                "propres droits d'administration."
            }
        )
    identity = require_identity_change(actor, user, data)
    reason = data.pop("reason", "")
    if "profession" in identity and not reason:
        raise InvalidInput({"/reason": REASON_REQUIRED}, REASON_REQUIRED)
    if reason and not identity:
        raise InvalidInput({"/reason": REASON_UNUSED}, REASON_UNUSED)
    details = {"reason": reason} if reason else {}
    if "profession" in identity:
        details["profession"] = {"from": user.profession, "to": data["profession"]}
    if "memberships" in data:
        memberships = resolve_memberships(data["memberships"])
        changes_roles = _roles_by_structure(memberships) != _roles_by_structure(user.memberships)
        if changes_roles and not policy.can(actor, "member.set_roles", (None, user)):
            raise Forbidden(OWN_ROLES, fields={"/memberships": OWN_ROLES})
        user.memberships = memberships
    for field in ("email", "name", "profession", "phone", "platform_admin", "status"):
        if field in data:
            setattr(user, field, data[field])
    if "password" in data:
        check_new_password(data["password"], user.email, user.name)
        user.password_hash = hash_password(data["password"])
    if "password" in data or data.get("status", "active") != "active":
        user.end_sessions()  # of a suspended or reset account
    user.updated_at = utcnow()
    save_unique(user, _duplicate_email(), insert=False)
    if "password" in data:  # a reset after a compromise: the tokens go too
        ApiToken.objects(user=user.id, revoked_at=None).update(set__revoked_at=utcnow())
    audit.record(actor, "user.update", user, fields=sorted(data), **details)
    return user


def update_profile(actor, data):
    """Change one's own phone (absent: none). The name and the profession are verified facts:
    sent unchanged they pass, changed the whole request is refused (Forbidden)."""
    policy.require(actor, "profile.edit", actor)
    data = check(schemas.PROFILE_UPDATE, clean_input(data))
    require_identity_change(actor, actor, data)
    phone = data.get("phone") or None
    changed = ["phone"] if phone != actor.phone else []
    actor.phone = phone
    actor.updated_at = utcnow()
    actor.save()
    audit.record(actor, "profile.update", actor, fields=changed)
    return actor


def change_password(actor, data, session_id=None):
    """Change one's password; every other session of the account ends, `session_id` stays."""
    policy.require(actor, "profile.edit", actor)
    data = check(schemas.PASSWORD_CHANGE, data)
    if not verify_password(actor.password_hash, data["current_password"]):
        raise InvalidInput({"/current_password": "Le mot de passe actuel est incorrect."})
    check_new_password(data["new_password"], actor.email, actor.name, "/new_password")
    actor.password_hash = hash_password(data["new_password"])
    actor.end_sessions(keep=session_id)
    actor.save()
    audit.record(actor, "profile.password_change", actor)
    return actor


# --- API tokens ------------------------------------------------------------------------------


def _digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(actor, user, data):
    """Create a token for `user`; return (token document, the token, shown only this once)."""
    policy.require(actor, "token.manage", user)
    data = check(schemas.TOKEN_CREATE, clean_input(data))
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user.id, name=data["name"], token_hash=_digest(plain), prefix=plain[:10])
    token.save(force_insert=True)
    audit.record(actor, "token.create", token, user=str(user.id), name=token.name)
    return token, plain


def list_tokens(actor, user):
    policy.require(actor, "token.manage", user)
    return ApiToken.objects(user=user.id).order_by("-created_at")


def revoke_token(actor, user, token_id):
    policy.require(actor, "token.manage", user)
    try:
        token = ApiToken.objects(id=ObjectId(token_id), user=user.id).first()
    except (InvalidId, TypeError):
        token = None
    if token is None:
        raise NotFound("Ce jeton n'existe pas.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        token.save()
        audit.record(actor, "token.revoke", token, user=str(user.id))
    return token


def user_for_token(plain):
    """The active user behind an API token, or None (unknown, revoked, inactive account)."""
    if not plain or not plain.startswith(TOKEN_PREFIX) or len(plain) > 100:
        return None
    token = ApiToken.objects(token_hash=_digest(plain), revoked_at=None).first()
    if token is None:
        return None
    user = find_user(token.user)
    if user is None or not user.is_active:
        return None
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > TOKEN_TOUCH_INTERVAL:
        ApiToken.objects(id=token.id).update_one(set__last_used_at=now)
    return user
