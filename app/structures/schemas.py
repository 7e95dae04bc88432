"""JSON Schemas of structure input: the API validates with them and documents them."""

from app.accounts.schemas import EMAIL, NAME, PASSWORD, PHONE, PROFESSION, ROLES
from app.reference import SECTORS, STRUCTURE_KINDS

STRUCTURE_FIELDS = {
    "key": {
        "type": "string",
        "minLength": 2,
        "maxLength": 64,
        "pattern": "^[a-z0-9][a-z0-9_-]*$",
    },
    "name": NAME,
    "sector": {"enum": list(SECTORS)},
    "kind": {"enum": list(STRUCTURE_KINDS)},
    "finess": {"type": "string", "pattern": "^([0-9]{2}|2A|2B)?[0-9]{0,7}$", "maxLength": 9},
    "siret": {"type": "string", "pattern": "^([0-9]{14})?$"},
    "address": {"type": "string", "maxLength": 300},
    "department": {"type": "string", "pattern": "^([0-9]{2,3}|2A|2B)?$"},
    "phone": PHONE,
    "email": {"anyOf": [EMAIL, {"const": ""}]},
    "active": {"type": "boolean"},
}

STRUCTURE_CREATE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["key", "name", "sector", "kind"],
    "properties": STRUCTURE_FIELDS,
}

STRUCTURE_UPDATE = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {k: v for k, v in STRUCTURE_FIELDS.items() if k != "key"},
}

MEMBER_ADD = {
    "type": "object",
    "additionalProperties": False,
    "required": ["email", "roles"],
    "properties": {
        "email": EMAIL,
        "roles": {**ROLES, "minItems": 1},
        # Only when the e-mail has no account yet: the account is created with them.
        "name": NAME,
        "profession": PROFESSION,
        "password": PASSWORD,
    },
}

MEMBER_ROLES = {
    "type": "object",
    "additionalProperties": False,
    "required": ["roles"],
    "properties": {"roles": ROLES},
}

STRUCTURE_OUT = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        **{k: {"type": ["string", "null"]} for k in STRUCTURE_FIELDS if k != "active"},
        "active": {"type": "boolean"},
    },
}
