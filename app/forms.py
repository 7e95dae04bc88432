"""Helpers for the HTML forms of the views: read the posted fields, show errors back."""

from flask import render_template, request
from flask_login import current_user, login_required

from app.errors import ServiceError
from app.validation import InvalidInput

# What a form view catches to show the form again: a refusal by a service or invalid fields.
FORM_ERRORS = (ServiceError, InvalidInput)


def posted(*fields, lists=(), booleans=()):
    """The posted form as a dict for a service: text fields, multi-value fields, checkboxes."""
    data = {name: request.form[name] for name in fields if request.form.get(name, "") != ""}
    data.update({name: request.form.getlist(name) for name in lists})
    data.update({name: request.form.get(name) == "on" for name in booleans})
    return data


def status_of(error):
    """The HTTP status to answer a refused form with: the service's, else 400."""
    return getattr(error, "status", 400)


def rerender(template, error, status=None, **context):
    """The same page again with what was typed and an error message per field."""
    status = status or getattr(error, "status", 400)
    fields = getattr(error, "fields", {})
    return (
        render_template(
            template,
            values=request.form,
            errors=fields,
            error_message=error.message,
            **context,
        ),
        status,
    )


def acting_user():
    """The signed-in user as the document itself, not flask-login's proxy, for services."""
    return current_user._get_current_object()


def signed_in_only(blueprint):
    """Every page of `blueprint` asks for sign-in first."""

    @blueprint.before_request
    @login_required
    def require_login():
        return None
