"""The OpenAPI 3.1 document, generated from the routes declared with `route`."""

import re

from flask import current_app

from app import __version__
from app.api.core import ROUTES, bp

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string", "description": "En français"},
                "fields": {
                    "type": "object",
                    "description": "Message par champ, clé = pointeur JSON (/email)",
                    "additionalProperties": {"type": "string"},
                },
            },
        }
    },
}
ERROR_STATUSES = {
    "400": "Requête invalide (JSON mal formé)",
    "401": "Jeton absent, inconnu ou révoqué",
    "403": "Action non permise",
    "404": "Ressource inconnue",
    "409": "Conflit (doublon)",
    "413": "Corps trop volumineux",
    "415": "Le corps doit être application/json",
    "422": "Données invalides (détail par champ)",
    "429": "Trop de requêtes : la limite de fréquence de ce compte est atteinte",
}
QUERY_PARAMS = {
    "q": {"type": "string"},
    "page": {"type": "integer", "minimum": 1},
    "per_page": {"type": "integer", "minimum": 1, "maximum": 100},
    "dossier": {"type": "string", "description": "Identifiant du dossier"},
    "pathway": {"type": "string", "description": "Clé du parcours"},
    "due_before": {"type": "string", "format": "date", "description": "Échéance ce jour ou avant"},
    "overdue": {"type": "boolean", "description": "true : seulement les tâches en retard"},
    "done": {"type": "boolean", "description": "true : les tâches terminées (30 jours)"},
    # The identity search (app/dossiers/listing.py): the whole birth name and date, or the INS.
    "birth_name": {
        "type": "string",
        "maxLength": 100,
        "description": "Nom de naissance entier (accents et casse indifférents)",
    },
    "birth_date": {"type": "string", "format": "date"},
    "ins": {"type": "string", "maxLength": 30, "description": "Matricule INS (15 caractères)"},
    "before": {"type": "integer", "minimum": 1},
    "after": {
        "type": "string",
        "description": "Le curseur « next » de la page précédente ; messages : le numéro du "
        "dernier message reçu",
    },
    "kind": {"type": "string"},
    "structure": {"type": "string", "description": "Clé de la structure propriétaire"},
    "version": {"type": "integer", "minimum": 1},
    "unread": {"type": "boolean", "description": "true : seulement les non lues"},
    # The directory's search (app/directory/search.py)
    "name": {"type": "string", "maxLength": 100, "description": "Début du nom ou du prénom"},
    "profession": {"type": "string", "description": "Code de profession (10, 60, cesf…)"},
    "specialty": {"type": "string", "maxLength": 100},
    "commune": {"type": "string", "maxLength": 100},
    "postcode": {"type": "string", "pattern": "^[0-9]{5}$"},
    "department": {"type": "string", "description": "31, 2A, 974…"},
    "has_account": {"type": "boolean", "description": "true : seulement ceux qui ont un compte"},
}


def _path(rule):
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)


def _operation(rule, spec):
    operation = {
        "operationId": spec["operation_id"],
        "summary": spec["summary"],
        "tags": [spec["tag"]] if spec["tag"] else [],
    }
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"<(?:\w+:)?(\w+)>", rule)
    ]
    parameters += [
        {"name": name, "in": "query", "schema": schema}
        for name, schema in map(_query_param, spec["params"])
    ]
    if parameters:
        operation["parameters"] = parameters
    if spec["body"]:
        types = spec["body_type"]
        operation["requestBody"] = {
            "required": True,
            "content": {t: {"schema": spec["body"]} for t in _as_tuple(types)},
        }
    success = {"description": "Succès"}
    if spec["response"]:
        success["content"] = {"application/json": {"schema": spec["response"]}}
    if spec["produces"]:
        success["content"] = {
            media_type: {"schema": schema}
            for media_type, schema in spec["produces"](current_app).items()
        }
    errors = {
        code: {"description": text, "content": {"application/json": {"schema": ERROR}}}
        for code, text in ERROR_STATUSES.items()
        if code != "429" or spec["limited"]
    }
    others = {str(code): {**success, "description": text} for code, text in spec["also"].items()}
    operation["responses"] = {str(spec["status"]): success, **others, **errors}
    return operation


def _as_tuple(value):
    return value if isinstance(value, tuple) else (value,)


def _query_param(param):
    """(name, schema) of a query parameter: a name of QUERY_PARAMS, or a pair whose schema may
    depend on the app (what its plugins registered)."""
    if isinstance(param, str):
        return param, QUERY_PARAMS[param]
    name, schema = param
    return name, schema(current_app) if callable(schema) else schema


def build_document():
    paths = {}
    for rule, method, spec in ROUTES:
        paths.setdefault("/api/v1" + _path(rule), {})[method] = _operation(rule, spec)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "API Parcours",
            "version": __version__,
            "description": "API REST de Parcours. Authentification : en-tête "
            "`Authorization: Bearer <jeton>` (jeton personnel créé dans « Mon profil »).",
            "license": {"name": "EUPL-1.2", "identifier": "EUPL-1.2"},
        },
        "servers": [{"url": current_app.config["BASE_URL"]}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": ERROR},
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }


@bp.get("/openapi.json")
def openapi_document():
    return build_document()
