"""JSON Schemas of dossier input: the API validates with them and documents them."""

from app.accounts.schemas import EMAIL, PHONE
from app.reference import (
    ACCESS_LEVELS,
    CARE_ROLES,
    CONSENT_MODES,
    DATA_CATEGORIES,
    IDENTITY_DOCUMENTS,
    LIVING_SITUATIONS,
    PROFESSION_CATEGORIES,
    SEXES,
    VISIBILITIES,
)

DATE = {"type": "string", "format": "date", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
OBJECT_ID = {"type": "string", "pattern": "^[0-9a-f]{24}$"}
NAME_PART = {"type": "string", "minLength": 1, "maxLength": 100, "pattern": r"\S"}
LONG_TEXT = {"type": "string", "maxLength": 2000}
MAX_NOTE = 20_000

IDENTITY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["birth_name", "first_names", "birth_date", "sex"],
    "properties": {
        "birth_name": NAME_PART,
        "used_name": {"type": "string", "maxLength": 100},
        "first_names": {**NAME_PART, "maxLength": 200},
        "birth_date": DATE,
        "sex": {"enum": list(SEXES)},
        # 5 characters: digits, or 2A/2B and 3 digits for Corsica (99xxx: born abroad).
        "birth_place_code": {"type": "string", "pattern": "^([0-9]{5}|2[AB][0-9]{3})?$"},
        "ins": {"type": "string", "pattern": "^([0-9A-B]{15})?$"},
    },
}

# The identity's check: the document shown (none: ""), the INS checked through INSi.
IDENTITY_CHECK = {
    "type": "object",
    "additionalProperties": False,
    "required": ["document", "ins_checked"],
    "properties": {
        "document": {"enum": ["", *IDENTITY_DOCUMENTS]},
        "ins_checked": {"type": "boolean"},
        # The identity's `fingerprint` as shown to who checked it (optional in the API).
        "traits": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
    },
}

CONSENT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["mode", "date"],
    "properties": {"mode": {"enum": list(CONSENT_MODES)}, "date": DATE},
}

CONTACT = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "maxLength": 200},
        "relation": {"type": "string", "maxLength": 100},
        "phone": PHONE,
        "email": {"anyOf": [EMAIL, {"const": ""}]},
    },
}

DETAILS = {
    "contacts": {"type": "array", "maxItems": 10, "items": CONTACT},
    "phone": PHONE,
    "email": {"anyOf": [EMAIL, {"const": ""}]},
    "address": {"type": "string", "maxLength": 300},
    "postcode": {"type": "string", "pattern": "^([0-9]{5}|2[AB][0-9]{3})?$"},
    "city": {"type": "string", "maxLength": 100},
    "living_situation": {"enum": ["", *LIVING_SITUATIONS]},
    "living_notes": LONG_TEXT,
}

IDENTITY_FIELDS = tuple(IDENTITY["properties"])
# The dossier's own fields besides identity and contacts.
DETAIL_FIELDS = tuple(name for name in DETAILS if name != "contacts")

DOSSIER_CREATE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["identity", "consent", "structure"],
    "properties": {
        "identity": IDENTITY,
        "consent": CONSENT,
        "structure": {"type": "string", "minLength": 1, "maxLength": 64},
        "confirm_new": {"type": "boolean"},
        **DETAILS,
    },
}

DOSSIER_UPDATE = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {"identity": IDENTITY, "referent": OBJECT_ID, **DETAILS},
}

MEMBER_ADD = {
    "type": "object",
    "additionalProperties": False,
    "required": ["care_role"],
    "minProperties": 2,
    "properties": {
        "user": OBJECT_ID,
        "professional": OBJECT_ID,
        "care_role": {"enum": list(CARE_ROLES)},
        "since": DATE,
        "until": DATE,
    },
}

PERSON = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {"user": OBJECT_ID, "professional": OBJECT_ID, "reason": LONG_TEXT},
}

CONSENT_WITHDRAW = {
    "type": "object",
    "additionalProperties": False,
    "required": ["date", "reason"],
    "properties": {"date": DATE, "reason": {**LONG_TEXT, "minLength": 1, "pattern": r"\S"}},
}

JOIN_REQUEST = {
    "type": "object",
    "additionalProperties": False,
    "required": ["care_role"],
    "properties": {"care_role": {"enum": list(CARE_ROLES)}, "message": LONG_TEXT},
}

JOIN_DECISION = {
    "type": "object",
    "additionalProperties": False,
    "required": ["decision"],
    "properties": {"decision": {"enum": ["accept", "refuse"]}, "reason": LONG_TEXT},
}

ENTRY_CREATE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["visibility"],
    "properties": {
        "visibility": {"enum": list(VISIBILITIES)},
        "category": {"enum": list(DATA_CATEGORIES)},
        "title": {"type": "string", "maxLength": 200},
        "note": {"type": "string", "minLength": 1, "maxLength": MAX_NOTE, "pattern": r"\S"},
        "form": {"type": "string", "minLength": 1, "maxLength": 64},
        "data": {"type": "object"},
    },
}

ENTRY_UPDATE = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "visibility": {"enum": list(VISIBILITIES)},
        "title": {"type": "string", "maxLength": 200},
        "note": ENTRY_CREATE["properties"]["note"],
        "data": {"type": "object"},
    },
}

ENTRY_DELETE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"reason": LONG_TEXT},
}

HABILITATIONS = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        category: {
            "type": "object",
            "propertyNames": {"enum": list(PROFESSION_CATEGORIES)},
            "additionalProperties": {"enum": list(ACCESS_LEVELS)},
        }
        for category in DATA_CATEGORIES
    },
}
