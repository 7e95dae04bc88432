"""Helpers for the HTML forms of the views: read the posted fields, show errors back."""

from flask import render_template, request

from app.validation import InvalidInput


def posted(*fields, lists=(), booleans=()):
    """The posted form as a dict for a service: text fields, multi-value fields, checkboxes."""
    data = {name: request.form[name] for name in fields if request.form.get(name, "") != ""}
    data.update({name: request.form.getlist(name) for name in lists})
    data.update({name: request.form.get(name) == "on" for name in booleans})
    return data


def rerender(template, error, status=400, **context):
    """The same page again with what was typed and an error message per field."""
    fields = error.fields if isinstance(error, InvalidInput) else getattr(error, "fields", {})
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
