"""JSON Schemas of the forms API input (the form's own schema is checked by formkit.schema)."""

from app.reference import DATA_CATEGORIES, PURPOSES, SECTORS

# "nouveau" is the creation page's address (/formulaires/nouveau), never a form's key.
KEY = {
    "type": "string",
    "minLength": 2,
    "maxLength": 64,
    "pattern": "^[a-z][a-z0-9_]*$",
    "not": {"const": "nouveau"},
}

FORM_CREATE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["key", "title", "category", "schema"],
    "properties": {
        "key": KEY,
        "title": {"type": "string", "minLength": 1, "maxLength": 200},
        "description": {"type": "string", "maxLength": 1000},
        "category": {"enum": list(DATA_CATEGORIES)},
        "sector": {"enum": list(SECTORS)},
        "purpose": {
            "enum": list(PURPOSES),
            "description": "patient (défaut) : rempli sur un dossier ; platform : étape d'un "
            "processus interne de la plateforme, jamais sur un dossier (sans structure)",
        },
        "structure": {
            "type": "string",
            "minLength": 1,
            "maxLength": 64,
            "description": "Clé de la structure propriétaire ; absente : formulaire "
            "de toute la plateforme",
        },
        "schema": {"type": "object", "description": "JSON Schema (Draft 2020-12)"},
        "ui_schema": {"type": "object"},
    },
}

VERSION_CREATE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["schema"],
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 200},
        "schema": {"type": "object"},
        "ui_schema": {"type": "object"},
    },
}

SUBMISSION = {
    "type": "object",
    "additionalProperties": False,
    "required": ["data"],
    "properties": {"data": {"type": "object"}},
}

FORM_OUT = {
    "type": "object",
    "properties": {
        "key": {"type": "string"},
        "title": {"type": "string"},
        "description": {"type": ["string", "null"]},
        "category": {"type": "string"},
        "sector": {"type": ["string", "null"]},
        "purpose": {"enum": list(PURPOSES)},
        "structure": {"type": ["string", "null"]},
        "version": {"type": "integer"},
        "schema": {"type": "object"},
        "ui_schema": {"type": "object"},
        "published_at": {"type": "string"},
    },
}
