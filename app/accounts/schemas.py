"""JSON Schemas of account input: the API validates with them and documents them."""

from app.reference import PROFESSIONS, STRUCTURE_ROLES, USER_STATUSES
from app.validation import EMAIL_PATTERN

PASSWORD_MIN = 12

EMAIL = {"type": "string", "maxLength": 254, "pattern": EMAIL_PATTERN}
NAME = {"type": "string", "minLength": 1, "maxLength": 200}
PASSWORD = {"type": "string", "minLength": PASSWORD_MIN, "maxLength": 200}
PROFESSION = {"enum": list(PROFESSIONS)}
PHONE = {"type": "string", "maxLength": 30, "pattern": r"^[0-9+ ().-]*$"}
ROLES = {
    "type": "array",
    "items": {"enum": list(STRUCTURE_ROLES)},
    "uniqueItems": True,
    "maxItems": len(STRUCTURE_ROLES),
}
MEMBERSHIPS = {
    "type": "array",
    "maxItems": 50,
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["structure", "roles"],
        "properties": {
            "structure": {"type": "string", "minLength": 1, "maxLength": 64},
            "roles": {**ROLES, "minItems": 1},
        },
    },
}

USER_FIELDS = {
    "email": EMAIL,
    "name": NAME,
    "password": PASSWORD,
    "profession": PROFESSION,
    "phone": PHONE,
    "platform_admin": {"type": "boolean"},
    "status": {"enum": list(USER_STATUSES)},
    "memberships": MEMBERSHIPS,
}

USER_CREATE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["email", "name", "password"],
    "properties": USER_FIELDS,
}

USER_UPDATE = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        **USER_FIELDS,
        "reason": {
            "type": "string",
            "maxLength": 500,
            "description": "Motif d'un changement de nom ou de profession (obligatoire pour "
            "la profession), gardé au journal d'audit",
        },
    },
}

# One's own profile: the phone. The name and the profession are the platform team's to
# change; sent unchanged they are accepted (a form or a client that sends the whole profile).
PROFILE_UPDATE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"name": NAME, "profession": PROFESSION, "phone": PHONE},
}

PASSWORD_CHANGE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["current_password", "new_password"],
    "properties": {
        "current_password": {"type": "string", "maxLength": 200},
        "new_password": PASSWORD,
    },
}

TOKEN_CREATE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 100}},
}

USER_OUT = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "email": {"type": "string"},
        "name": {"type": "string"},
        "profession": {"type": ["string", "null"]},
        "profession_label": {"type": "string"},
        "phone": {
            "type": ["string", "null"],
            "description": "Au compte lui-même et aux administrateurs de la plateforme seulement",
        },
        "status": {"enum": list(USER_STATUSES)},
        "platform_admin": {"type": "boolean", "description": "Idem"},
        "memberships": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"structure": {"type": "string"}, "roles": ROLES},
            },
        },
    },
}
