"""Finding professionals to work with: accounts and directory entries, by name.

Issue 7 brings the RPPS import and the full directory; this is the lookup a coordinator needs
to build a circle of care, and the entries added by hand for people without an account.
"""

from app import audit, policy
from app.accounts.models import User
from app.directory.models import Professional, Site
from app.reference import PROFESSIONS
from app.text import matches_all, prefix_range, tokens
from app.validation import check

EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
MSS = r"^[^@\s]+@([a-z0-9-]+\.)*mssante\.fr$"  # the MSSanté domains
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
        "email": {"type": "string", "maxLength": 254, "pattern": EMAIL},
        "mss": {"type": "string", "maxLength": 254, "pattern": MSS},
        "rpps": {"type": "string", "pattern": "^([0-9]{11})?$"},
        # Where they work, public (never a personal number: DESIGN.md §2).
        "site_name": {"type": "string", "maxLength": 200},
        "address": {"type": "string", "maxLength": 300},
        "postcode": {"type": "string", "pattern": "^[0-9]{5}$"},
        "commune": {"type": "string", "maxLength": 100},
        "phone": {"type": "string", "pattern": r"^\+?[0-9 .]{6,20}$"},
    },
}
SITE_FIELDS = ("site_name", "address", "postcode", "commune", "phone")


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


def department_of(postcode):
    """The department of a postcode: "31" for 31000, "2A"/"2B" in Corsica, "974" overseas."""
    if not postcode:
        return ""
    if postcode.startswith("20"):
        return "2A" if postcode < "20200" else "2B"
    return postcode[:3] if postcode.startswith("97") else postcode[:2]


def add_professional(actor, data):
    """A directory entry for someone without an account (source "manual")."""
    policy.require(actor, "directory.add")
    data = check(PROFESSIONAL_CREATE, {k: v for k, v in data.items() if v != ""})
    place = {k: data.pop(k) for k in SITE_FIELDS if k in data}
    sites = []
    if place:
        postcode = place.get("postcode", "")
        site = Site(name=place.get("site_name"), address=place.get("address"), postcode=postcode,
                    commune=place.get("commune"), phone=place.get("phone"))  # fmt: skip
        site.department = department_of(postcode)
        sites.append(site)
    professional = Professional(**data, sites=sites, source="manual", created_by=str(actor.id))
    professional.save(force_insert=True)
    audit.record(actor, "directory.add", professional)
    return professional
