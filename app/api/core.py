"""The API blueprint: token authentication, JSON bodies, and the route registry behind OpenAPI."""

import json

from flask import Blueprint, g, request

from app.accounts.services import user_for_token
from app.errors import Unauthorized, json_error
from app.paging import page_number, page_size
from app.terms.services import must_accept

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# Every route declared with `route` below, for the OpenAPI document: (rule, method, spec).
ROUTES = []
PUBLIC_ENDPOINTS = {"api.openapi_document"}


@bp.before_request
def authenticate():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    user = user_for_token(token.strip()) if scheme.lower() == "bearer" else None
    if user is None:
        error = Unauthorized()
        response, status = json_error(error.status, error.code, error.message)
        response.headers["WWW-Authenticate"] = 'Bearer realm="parcours"'
        return response, status
    g.api_user = user
    if (pending := must_accept(user)) is not None:
        return json_error(403, "terms_not_accepted", (
            f"Acceptez les conditions d'utilisation (version {pending.version}) sur la "
            "plateforme avant d'utiliser l'API ; pour un compte d'intégration, l'équipe de la "
            "plateforme enregistre cette acceptation avec parcours tokens create --accept-terms."
        ))  # fmt: skip
    return None


def route(
    rule,
    method,
    summary,
    *,
    body=None,
    body_type="application/json",
    response=None,
    status=200,
    also=None,
    produces=None,
    params=(),
    tag=None,
    limited=False,
):
    """Declare an API route and what the OpenAPI document says of it.

    `body_type`: a media type or a tuple of them; `also`: {status: description} of the other
    successes it answers; `produces`: a function of the app giving {media type: schema} of a
    success that is not JSON; `params`: query parameters, a name of openapi.QUERY_PARAMS or a
    (name, schema) pair, the schema possibly a function of the app; `limited`: the route has
    a rate limit (429 beyond)."""

    def decorator(view):
        spec = {
            "summary": summary,
            "body": body,
            "body_type": body_type,
            "response": response,
            "status": status,
            "also": also or {},
            "produces": produces,
            "params": params,
            "tag": tag,
            "limited": limited,
            "operation_id": view.__name__,
        }
        ROUTES.append((rule, method.lower(), spec))
        bp.add_url_rule(rule, view.__name__, view, methods=[method])
        return view

    return decorator


def json_body():
    """The request's JSON object (415, 400 or 413 otherwise); services validate its fields."""
    if request.mimetype != "application/json":
        return _abort(
            415,
            "unsupported_media_type",
            "Le contenu doit être du JSON (en-tête Content-Type: application/json).",
        )
    try:
        data = json.loads(request.get_data(cache=True) or b"")
        # A lone surrogate ("\ud800") parses but is not text: it could not be stored.
        json.dumps(data, ensure_ascii=False).encode()
    except (ValueError, RecursionError):  # UnicodeError is a ValueError; nesting too deep
        return _abort(400, "malformed_json", "Le corps de la requête n'est pas un JSON valide.")
    if not isinstance(data, dict):
        return _abort(400, "malformed_json", "Le corps de la requête doit être un objet JSON.")
    return data


class ApiAbort(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _abort(status, code, message):
    raise ApiAbort(status, code, message)


@bp.errorhandler(ApiAbort)
def _api_abort(error):
    return json_error(error.status, error.code, error.message)


def page_args():
    return page_number(), page_size()


def current_api_user():
    return g.api_user
