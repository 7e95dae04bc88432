"""The form library in the browser: list, read a version, try a form."""

from flask import Blueprint, render_template, request

from app.formkit import services
from app.formkit.coerce import coerce
from app.formkit.render import render_form, render_readonly
from app.forms import acting_user, signed_in_only
from app.paging import int_arg
from app.structures.services import structures_by_id
from app.validation import InvalidInput

bp = Blueprint("formkit", __name__, url_prefix="/formulaires")

signed_in_only(bp)


@bp.get("/")
def index():
    forms = list(services.list_forms(acting_user()))
    owners = structures_by_id({form.owner for form in forms if form.owner})
    can_create = bool(services.owner_choices(acting_user()))
    return render_template("formkit/index.html", forms=forms, owners=owners, can_create=can_create)


def _version_of(key):
    number = int_arg("version")
    return services.get_version(acting_user(), key, number)


@bp.route("/<key>", methods=["GET", "POST"])
def show(key):
    """The form as professionals fill it; submitting checks it without saving anything."""
    form, version = _version_of(key)
    schema, ui_schema = version.schema, version.ui_schema
    context = {
        "form": form,
        "version": version,
        "versions": range(form.latest_version, 0, -1),
        "can_edit": services.can_manage(acting_user(), form),
    }
    if request.method == "GET":
        fields = render_form(schema, ui_schema)
        return render_template("formkit/show.html", fields=fields, **context)
    data = coerce(schema, request.form)
    try:
        services.validate_submission(version, data)
    except InvalidInput as error:
        fields = render_form(schema, ui_schema, values=data, errors=error.fields)
        return render_template(
            "formkit/show.html", fields=fields, error_count=len(error.fields), **context
        ), 400
    return render_template(
        "formkit/show.html", result=render_readonly(schema, ui_schema, data), **context
    )
