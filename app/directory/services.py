"""Finding professionals to work with: accounts and directory entries, by name.

Issue 7 brings the RPPS import and the full directory; this is the lookup a coordinator needs
to build a circle of care, and the entries added by hand for people without an account.
"""

from app import audit, policy
from app.accounts.models import User
from app.directory.models import Professional
from app.reference import PROFESSIONS
from app.text import matches_all, prefix_range, tokens
from app.validation import check

MAX_RESULTS = 20
MAX_CANDIDATES = 500

PROFESSIONAL_CREATE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["last_name", "profession"],
    "properties": {
        "last_name": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": r"\S"},
        "first_name": {"type": "string", "maxLength": 100},
        "profession": {"enum": list(PROFESSIONS)},
        "email": {"type": "string", "maxLength": 254},
        "rpps": {"type": "string", "pattern": "^([0-9]{11})?$"},
    },
}


def _prefixed(model, wanted):
    longest = max(wanted, key=len)
    found = model.objects(__raw__={"search_keys": prefix_range(longest)}).limit(MAX_CANDIDATES)
    return [doc for doc in found if matches_all(doc.search_keys, wanted)]


def find_people(actor, query):
    """(users, professionals without an account) whose names start with the query's words."""
    policy.require(actor, "directory.search")
    wanted = [t for t in tokens(query[:200]) if len(t) >= 2]
    if not wanted:
        return [], []
    users = [u for u in _prefixed(User, wanted) if u.status == "active"]
    professionals = [p for p in _prefixed(Professional, wanted) if p.user is None and p.active]
    users.sort(key=lambda u: u.name)
    professionals.sort(key=lambda p: (p.last_name, p.first_name or ""))
    return users[:MAX_RESULTS], professionals[:MAX_RESULTS]


def add_professional(actor, data):
    """A directory entry for someone without an account (source "manual")."""
    policy.require(actor, "directory.add")
    data = check(PROFESSIONAL_CREATE, {k: v for k, v in data.items() if v != ""})
    professional = Professional(**data, source="manual", created_by=str(actor.id))
    professional.save(force_insert=True)
    audit.record(actor, "directory.add", professional)
    return professional
