"""Create, edit as JSON, import and export forms in the browser (structure and platform
admins). The field-by-field designer builds on the same draft and publication services."""

import json

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.errors import Forbidden
from app.formkit import services
from app.formkit.render import render_form
from app.forms import FORM_ERRORS, acting_user, posted, rerender, signed_in_only
from app.validation import InvalidInput

bp = Blueprint("formeditor", __name__, url_prefix="/formulaires")
signed_in_only(bp)

STARTER = {"type": "object", "additionalProperties": False, "properties": {}, "required": []}
MAX_FILE = 300 * 1024


def _json_field(name, text):
    """Parse a textarea or file of JSON; an error names the line and column."""
    try:
        return json.loads(text or "{}")
    except ValueError as error:
        line, column = getattr(error, "lineno", 1), getattr(error, "colno", 1)
        raise InvalidInput(
            {
                f"/{name}": _(
                    "JSON invalide (ligne %(line)s, colonne %(column)s).", line=line, column=column
                )
            }
        )


def _uploaded_definition():
    upload = request.files.get("fichier")
    if upload is None or not upload.filename:
        return None
    content = upload.read(MAX_FILE + 1)
    if len(content) > MAX_FILE:
        raise InvalidInput({"/fichier": _("Le fichier dépasse 300 Kio.")})
    try:
        definition = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput({"/fichier": _("Ce fichier n'est pas un formulaire JSON valide.")})
    if not isinstance(definition, dict) or not isinstance(definition.get("schema"), dict):
        raise InvalidInput({"/fichier": _("Le fichier doit contenir un objet avec « schema ».")})
    return definition


@bp.route("/nouveau", methods=["GET", "POST"])
def create():
    owners = services.owner_choices(acting_user())
    if not owners:
        raise Forbidden()
    context = {"owners": owners}
    if request.method == "GET":
        return render_template("formkit/new.html", values={}, errors={}, **context)
    data = posted("key", "title", "category", "description", "structure")
    try:
        definition = _uploaded_definition() or {}
        data = {
            **{k: definition[k] for k in ("title", "description", "category") if k in definition},
            **data,
        }
        data["schema"] = definition.get("schema", STARTER)
        data["ui_schema"] = definition.get("ui_schema", {})
        form, _version = services.create_form(acting_user(), data, publish=False)
    except FORM_ERRORS as error:
        return rerender("formkit/new.html", error, **context)
    flash(
        _("Le formulaire « %(title)s » est créé : complétez-le puis publiez-le.", title=form.title),
        "success",
    )
    return redirect(url_for("formeditor.edit", key=form.key))


def _editor_page(form, title, schema_text, ui_text, errors=None, status=200, message=None):
    preview = None
    try:
        schema, ui_schema = json.loads(schema_text), json.loads(ui_text or "{}")
        if isinstance(schema, dict) and isinstance(ui_schema, dict):
            preview = render_form(schema, ui_schema, prefix="apercu")
    except (ValueError, TypeError, KeyError, AttributeError):
        preview = None  # the preview shows what can be shown; errors are listed above it
    return render_template(
        "formkit/edit.html",
        form=form,
        values={"title": title, "schema": schema_text, "ui_schema": ui_text},
        errors=errors or {},
        error_message=message,
        preview=preview,
    ), status


def _current_texts(form):
    if form.has_draft:
        return form.draft_title, form.draft_schema_json, form.draft_ui_schema_json or "{}"
    _form, version = services.get_version(acting_user(), form.key)
    return version.title, version.schema_json, version.ui_schema_json


def _pretty(text):
    return json.dumps(json.loads(text), ensure_ascii=False, indent=2)


@bp.route("/<key>/modifier", methods=["GET", "POST"])
def edit(key):
    actor = acting_user()
    form = services.get_form(actor, key)
    services.require_manage(actor, form)
    if request.method == "GET":
        title, schema_text, ui_text = _current_texts(form)
        return _editor_page(form, title, _pretty(schema_text), _pretty(ui_text))
    title = request.form.get("title", "").strip()
    schema_text, ui_text = request.form.get("schema", ""), request.form.get("ui_schema", "")
    try:
        definition = _uploaded_definition()
        if definition is not None:
            title = definition.get("title", title)
            schema_text = json.dumps(definition["schema"], ensure_ascii=False, indent=2)
            ui_text = json.dumps(definition.get("ui_schema", {}), ensure_ascii=False, indent=2)
        schema = _json_field("schema", schema_text)
        ui_schema = _json_field("ui_schema", ui_text)
        services.save_draft(actor, form, title, schema, ui_schema)
        if request.form.get("action") == "publish":
            version = services.publish_draft(actor, form)
            flash(_("Version %(n)s publiée.", n=version.version), "success")
            return redirect(url_for("formkit.show", key=form.key))
    except InvalidInput as error:
        return _editor_page(form, title, schema_text, ui_text, error.fields, 400, error.message)
    flash(_("Brouillon enregistré."), "success")
    return redirect(url_for("formeditor.edit", key=form.key))


@bp.get("/<key>/export")
def export(key):
    number = request.args.get("version", type=int)
    form, version = services.get_version(acting_user(), key, number)
    body = json.dumps(services.export_definition(form, version), ensure_ascii=False, indent=2)
    filename = f"{form.key}-v{version.version}.json"
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
