"""Errors that services raise, and how the web and the API answer them.

Services raise these; the API turns them into the JSON error format of DESIGN.md §5, the web
into a French page or a flash message. Nothing has been written when one is raised.
"""

from flask import current_app, jsonify, render_template, request
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from pymongo.errors import ConnectionFailure
from werkzeug.exceptions import HTTPException

from app.uploads import MAX_UPLOAD_REQUEST
from app.validation import InvalidInput


class ServiceError(Exception):
    status = 400
    code = "bad_request"
    message = "La demande est invalide."

    def __init__(self, message=None, fields=None, extra=None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.fields = fields or {}
        self.extra = extra or {}  # more members of the JSON error, e.g. duplicate candidates


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"
    message = "Vous n'avez pas le droit de faire cette action."


class NotFound(ServiceError):
    status = 404
    code = "not_found"
    message = "Cette page ou cette ressource n'existe pas."


class Conflict(ServiceError):
    status = 409
    code = "conflict"
    message = "Cette ressource existe déjà."


class Unauthorized(ServiceError):
    status = 401
    code = "unauthorized"
    message = "Authentification requise : fournissez un jeton d'API valide."


HTTP_MESSAGES = {
    400: ("bad_request", "La demande est invalide."),
    401: ("unauthorized", "Authentification requise."),
    403: ("forbidden", "Vous n'avez pas le droit d'accéder à cette page."),
    404: ("not_found", "Cette page ou cette ressource n'existe pas."),
    405: ("method_not_allowed", "Cette méthode n'est pas permise sur cette adresse."),
    413: ("payload_too_large", "Les données envoyées sont trop volumineuses."),
    415: ("unsupported_media_type", "Le contenu doit être du JSON (application/json)."),
    422: ("invalid", "Les données envoyées sont invalides."),
    429: ("too_many_requests", "Trop de tentatives. Réessayez dans une minute."),
    500: (
        "server_error",
        "Une erreur interne est survenue. Réessayez plus tard ; si le problème "
        "persiste, contactez le support de la plateforme.",
    ),
}


def json_error(status, code, message, fields=None, extra=None):
    body = {"error": {"code": code, "message": message, **(extra or {})}}
    if fields:
        body["error"]["fields"] = fields
    return jsonify(body), status


def wants_json():
    return request.path.startswith("/api/")


def _http_error(error):
    status = error.code or 500
    code, message = HTTP_MESSAGES.get(status, ("error", error.description))
    if isinstance(error, RateLimitExceeded) and error.limit.error_message:
        message = error.description  # a limit that says what it limits (French)
    if status == 413 and getattr(request, "max_content_length", None) == MAX_UPLOAD_REQUEST:
        message = "Le fichier dépasse la taille maximale de 20 Mio."
    if isinstance(error, CSRFError):
        message = "Le formulaire a expiré ou n'est pas valide. Rechargez la page et réessayez."
    if wants_json():
        response = json_error(status, code, message)[0]
        response.status_code = status
        if status == 405 and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response
    return render_template("errors/error.html", status=status, message=message), status


def _service_error(error):
    if wants_json():
        return json_error(error.status, error.code, error.message, error.fields, error.extra)
    return render_template("errors/error.html", status=error.status, message=error.message), (
        error.status
    )


def _invalid_input(error):
    if wants_json():
        return json_error(422, "invalid", error.message, error.fields)
    return render_template("errors/error.html", status=400, message=error.message), 400


UNAVAILABLE = (
    "La base de données est momentanément indisponible. Réessayez dans quelques instants : "
    "rien de ce que vous avez envoyé n'a été perdu s'il n'a pas été confirmé."
)


def _database_unavailable(error):
    """The database is away (stopped, restarting, failing over): 503 within the driver's
    server selection time, and a page that reads nothing from it."""
    current_app.logger.warning("database unavailable: %s", type(error).__name__)
    if wants_json():
        response = json_error(503, "unavailable", UNAVAILABLE)[0]
        response.status_code = 503
    else:
        # Without the context processors, which would read the signed-in user again.
        page = current_app.jinja_env.get_template("errors/unavailable.html")
        response = current_app.make_response((page.render(message=UNAVAILABLE), 503))
    response.headers["Retry-After"] = "5"
    return response


def register_error_handlers(app):
    app.register_error_handler(ConnectionFailure, _database_unavailable)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(ServiceError, _service_error)
    app.register_error_handler(InvalidInput, _invalid_input)
