"""Identity traits: the checks the schemas cannot express, the probable-duplicate rule, and
the identity's confidence level (RNIV)."""

import hashlib
import re

from app.clock import today as paris_today
from app.text import compact, fold

OLDEST_BIRTH_DATE = "1900-01-01"
# The INS matricule is the NIR: sex, year, month, department (2A/2B in Corsica), commune,
# order number, then a 2-digit key.
INS_RE = re.compile(r"^[1-478][0-9]{4}(?:[0-9]{2}|2[AB])[0-9]{6}[0-9]{2}$")
INS_INVALID = (
    "Ce matricule INS est invalide : 15 caractères attendus, dont une clé de contrôle de 2 "
    "chiffres qui ne correspond pas."
)


def ins_key_valid(ins):
    """Whether the last two digits are the key of the first 13 (97 - number mod 97); Corsican
    departments count as 19 (2A) and 18 (2B), as the NIR rules say."""
    if not INS_RE.match(ins or ""):
        return False
    body = ins[:13]
    if body[5:7] == "2A":
        number = int(body.replace("2A", "19", 1)) - 1_000_000
    elif body[5:7] == "2B":
        number = int(body.replace("2B", "18", 1)) - 2_000_000
    else:
        number = int(body)
    return 97 - number % 97 == int(ins[13:])


def date_problems(data):
    """French messages, by JSON pointer, for dates that are well-formed but impossible."""
    today = paris_today()
    problems = {}
    birth = data.get("identity", {}).get("birth_date")
    if birth and birth > today:
        problems["/identity/birth_date"] = "La date de naissance ne peut pas être dans le futur."
    elif birth and birth < OLDEST_BIRTH_DATE:
        problems["/identity/birth_date"] = "La date de naissance ne peut pas précéder 1900."
    consent_date = data.get("consent", {}).get("date")
    if consent_date and consent_date > today:
        problems["/consent/date"] = "Le consentement ne peut pas être daté du futur."
    ins = data.get("identity", {}).get("ins")
    if ins and not ins_key_valid(ins):
        problems["/identity/ins"] = INS_INVALID
    return problems


# The traits a check vouches for: changing one makes the identity provisional again. The used
# name is not one of them (it changes on a marriage, the documents keep the birth name).
STRICT_TRAITS = ("birth_name", "first_names", "birth_date", "sex", "birth_place_code", "ins")


def verification_status(document, ins_checked, ins):
    """RNIV: a document of high confidence checked makes the identity "validée", the INS
    obtained or checked through INSi "récupérée", both "qualifiée"."""
    ins_checked = bool(ins_checked and ins)
    if document and ins_checked:
        return "qualifiee"
    if ins_checked:
        return "recuperee"
    return "validee" if document else "provisoire"


def fingerprint(identity):
    """A short digest of the strict traits of an Identity: a check made on a page shown
    before someone else changed them must not vouch for the new ones."""
    joined = "\x1f".join(getattr(identity, name) or "" for name in STRICT_TRAITS)
    return hashlib.sha256(joined.encode()).hexdigest()[:16]


def traits_changed(before, after):
    """Whether `after` (the identity as typed) differs from `before` on a strict trait."""
    return any((getattr(before, name) or "") != (after.get(name) or "") for name in STRICT_TRAITS)


def _first_names(text):
    return set(re.findall(r"[a-z0-9]+", fold(text or "")))


def probable_duplicate(identity, other):
    """Same birth date (the caller's query), one name in common between birth and used names
    (accents, case, spaces and hyphens aside), and the same first names in any order (or one
    list contained in the other: "Marie" and "Marie Louise")."""
    names = {compact(identity.get("birth_name")), compact(identity.get("used_name"))} - {""}
    other_names = {compact(other.birth_name), compact(other.used_name)} - {""}
    if not names & other_names:
        return False
    mine, theirs = _first_names(identity.get("first_names")), _first_names(other.first_names)
    return bool(mine and theirs) and (mine <= theirs or theirs <= mine)
