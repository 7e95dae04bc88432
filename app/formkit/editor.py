"""Create, edit as JSON, import and export forms in the browser (structure and platform
admins). The field-by-field designer builds on the same draft and publication services."""

import json

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.errors import Forbidden
from app.formkit import designer, fields, services
from app.formkit.render import render_form
from app.forms import FORM_ERRORS, acting_user, posted, rerender, signed_in_only
from app.paging import int_arg
from app.validation import InvalidInput

bp = Blueprint("formeditor", __name__, url_prefix="/formulaires")
signed_in_only(bp)

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
    data = posted("key", "title", "category", "description", "structure", "purpose")
    try:
        definition = _uploaded_definition() or {}
        data = {
            **{
                k: definition[k]
                for k in ("title", "description", "category", "purpose")
                if k in definition
            },
            **data,
        }
        data["schema"] = definition.get("schema", services.EMPTY_SCHEMA)
        data["ui_schema"] = definition.get("ui_schema", {})
        form, _version = services.create_form(acting_user(), data, publish=False)
    except FORM_ERRORS as error:
        return rerender("formkit/new.html", error, **context)
    flash(
        _("Le formulaire « %(title)s » est créé : complétez-le puis publiez-le.", title=form.title),
        "success",
    )
    return redirect(url_for("formeditor.design", key=form.key))


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


def _pretty(value):
    return json.dumps(value, ensure_ascii=False, indent=2)


@bp.route("/<key>/modifier", methods=["GET", "POST"])
def edit(key):
    actor = acting_user()
    form = services.get_form(actor, key)
    services.require_manage(actor, form)
    if request.method == "GET":
        title, schema, ui_schema = services.working_copy(actor, form)
        return _editor_page(form, title, _pretty(schema), _pretty(ui_schema))
    title = request.form.get("title", "").strip()
    schema_text, ui_text = request.form.get("schema", ""), request.form.get("ui_schema", "")
    try:
        definition = _uploaded_definition()
        if definition is not None:
            title = definition.get("title", title)
            schema_text = _pretty(definition["schema"])
            ui_text = _pretty(definition.get("ui_schema", {}))
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
    number = int_arg("version")
    form, version = services.get_version(acting_user(), key, number)
    body = json.dumps(services.export_definition(form, version), ensure_ascii=False, indent=2)
    filename = f"{form.key}-v{version.version}.json"
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# --- the field-by-field designer --------------------------------------------------------------


def _path(encoded):
    return [part for part in (encoded or "").split("/") if part]


def _number(name, text, kind=float):
    try:
        value = kind(text)
    except ValueError:
        raise InvalidInput({f"/{name}": _("Saisissez un nombre.")})
    return value


def _field_spec(form):
    """The designer's add-field form as a spec for designer.add_field."""
    kind = form.get("type", "")
    spec = {
        "type": kind,
        "label": form.get("label", "").strip(),
        "required": form.get("required") == "on",
    }
    for name in ("help", "placeholder"):
        if form.get(name, "").strip():
            spec[name] = form[name].strip()
    for name in ("minimum", "maximum"):
        if form.get(name, "").strip():
            spec[name] = _number(name, form[name].strip(), int if kind == "integer" else float)
    if form.get("options", "").strip():
        spec["options"] = [line.strip() for line in form["options"].splitlines() if line.strip()]
    default = form.get("default", "").strip()
    if default:
        if kind == "boolean":
            spec["default"] = default.lower() in {"oui", "true", "1"}
        elif kind in {"integer", "number"}:
            spec["default"] = _number("default", default, int if kind == "integer" else float)
        elif kind in {"choice", "radio"}:
            spec["default"] = fields.slugify(default)
        else:
            spec["default"] = default
    allowed = fields.COMMON | fields.KINDS.get(kind, ({}, None, set()))[2]
    return {key: value for key, value in spec.items() if key in allowed}


def _condition_args(form, rows):
    target, when = form.get("target", ""), form.get("when", "")
    if target.rpartition("/")[0] != when.rpartition("/")[0]:
        raise InvalidInput({"/when": _("Les deux champs doivent être dans la même section.")})
    kinds = {"/".join([*row["path"], row["name"]]): row["type"] for row in rows}
    equals = form.get("equals", "").strip()
    if kinds.get(when) == "boolean":
        equals = equals.lower() in {"oui", "true", "1"}
    elif equals:
        equals = fields.slugify(equals)
    path = _path(target.rpartition("/")[0])
    return path, target.rpartition("/")[2], when.rpartition("/")[2], equals


@bp.route("/<key>/concevoir", methods=["GET", "POST"])
def design(key):
    """Build a form field by field; every change is saved in the draft and previewed."""
    actor = acting_user()
    form = services.get_form(actor, key)
    services.require_manage(actor, form)
    errors, message, status = {}, None, 200
    if request.method == "POST":
        operation = request.form.get("op")
        try:
            if operation == "publish":
                version = services.publish_draft(actor, form)
                flash(_("Version %(n)s publiée.", n=version.version), "success")
                return redirect(url_for("formkit.show", key=form.key))
            path, name = _path(request.form.get("path")), request.form.get("name", "")
            if operation == "add":
                services.design(
                    actor,
                    form,
                    "add_field",
                    _path(request.form.get("container")),
                    _field_spec(request.form),
                )
            elif operation in {"up", "down"}:
                services.design(actor, form, "move_field", path, name, operation)
            elif operation == "update":
                kind = request.form.get("type", "")
                spec = {k: v for k, v in _field_spec(request.form).items() if k != "type"}
                if kind in {"section", "group"}:
                    spec = {k: v for k, v in spec.items() if k in {"label", "help", "required"}}
                services.design(actor, form, "update_field", path, name, spec)
            elif operation == "remove":
                services.design(actor, form, "remove_field", path, name)
            elif operation == "condition":
                rows = designer.describe(*services.working_copy(actor, form)[1:])
                services.design(actor, form, "set_condition", *_condition_args(request.form, rows))
            elif operation == "uncondition":
                services.design(actor, form, "remove_condition", path, name)
            else:
                raise InvalidInput({"/op": _("Action inconnue.")})
            return redirect(url_for("formeditor.design", key=form.key))
        except InvalidInput as error:
            errors, message, status = error.fields, error.message, 400
        form.reload()
    title, schema, ui_schema = services.working_copy(actor, form)
    rows = designer.describe(schema, ui_schema)
    containers = [row for row in rows if row["type"] in {"section", "group"}]
    return render_template(
        "formkit/design.html",
        form=form,
        title=title,
        rows=rows,
        containers=containers,
        field_types=fields.FIELD_TYPES,
        preview=render_form(schema, ui_schema, prefix="apercu"),
        values=request.form if status != 200 else {},
        errors=errors,
        error_message=message,
    ), status
