"""Entries in the browser: add a note, a photo or document, a filled form; read, edit, remove."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from app import policy
from app.dossiers import documents, entries, habilitations, services
from app.errors import Forbidden
from app.formkit import services as forms
from app.formkit.coerce import coerce
from app.formkit.render import render_form, render_readonly
from app.forms import FORM_ERRORS, acting_user, signed_in_only, status_of
from app.paging import int_arg
from app.uploads import accepts_uploads, uploaded_file

bp = Blueprint("entries", __name__)

signed_in_only(bp)


def _writable(dossier):
    """The data categories the actor may write in on this dossier; 403 if none."""
    actor = acting_user()
    categories = [
        c
        for c in habilitations.writable_categories(actor)
        if policy.can(actor, "entry.create", (dossier, c))
    ]
    if not categories:
        raise Forbidden("Vous ne pouvez pas ajouter d'élément à ce dossier.")
    return categories


def _render(template, dossier, status=200, error=None, **context):
    fields = getattr(error, "fields", {})
    return render_template(
        template,
        dossier=dossier,
        values=request.form,
        errors=fields,
        error_message=getattr(error, "message", None),
        **context,
    ), status


def _blank(template, dossier, categories):
    """A new note or document form: shared, in the first category the author may write."""
    values = {"visibility": "shared", "category": categories[0]}
    return render_template(
        template, dossier=dossier, categories=categories, values=values, errors={}
    )


def _saved(dossier, message):
    flash(message, "success")
    return redirect(url_for("dossiers.show", dossier_id=dossier.id))


def _posted(*names):
    return {
        name: request.form[name].strip() for name in names if request.form.get(name, "").strip()
    }


@bp.route("/dossiers/<dossier_id>/notes/nouvelle", methods=["GET", "POST"])
def new_note(dossier_id):
    actor = acting_user()
    dossier = services.get_dossier(actor, dossier_id, record=False)
    categories = _writable(dossier)
    if request.method == "GET":
        return _blank("entries/note.html", dossier, categories)
    try:
        entries.add_entry(actor, dossier, _posted("title", "note", "category", "visibility"))
    except FORM_ERRORS as error:
        return _render(
            "entries/note.html",
            dossier,
            status_of(error),
            error,
            categories=categories,
        )
    return _saved(dossier, "La note a été ajoutée.")


@bp.route("/dossiers/<dossier_id>/documents/nouveau", methods=["GET", "POST"])
@accepts_uploads
def new_document(dossier_id):
    actor = acting_user()
    dossier = services.get_dossier(actor, dossier_id, record=False)
    categories = _writable(dossier)
    if request.method == "GET":
        return _blank("entries/document.html", dossier, categories)
    try:
        # The phone's camera button and the file chooser are two inputs: one is used.
        posted = uploaded_file("photo", required=False) or uploaded_file("file")
        upload = documents.inspect(*posted)
        entries.add_document(
            actor, dossier, upload, _posted("title", "text", "category", "visibility")
        )
    except FORM_ERRORS as error:
        return _render(
            "entries/document.html",
            dossier,
            status_of(error),
            error,
            categories=categories,
        )
    return _saved(dossier, "Le document a été ajouté.")


@bp.get("/dossiers/<dossier_id>/formulaires")
def pick_form(dossier_id):
    actor = acting_user()
    dossier = services.get_dossier(actor, dossier_id, record=False)
    _writable(dossier)
    available = forms.fillable_on(actor, dossier)
    return render_template("entries/pick_form.html", dossier=dossier, forms=available)


@bp.route("/dossiers/<dossier_id>/formulaires/<key>", methods=["GET", "POST"])
def fill_form(dossier_id, key):
    actor = acting_user()
    dossier = services.get_dossier(actor, dossier_id, record=False)
    form, version = forms.get_version(actor, key)
    entries.require_fill(actor, dossier, form)  # 403 saying why, before anything is shown
    context = {"dossier": dossier, "form": form, "version": version}
    if request.method == "GET":
        fields = render_form(version.schema, version.ui_schema)
        return render_template("entries/fill.html", fields=fields, visibility="shared", **context)
    data = coerce(version.schema, request.form)
    visibility = request.form.get("visibility", "")
    try:
        entries.add_entry(actor, dossier, {"form": key, "data": data, "visibility": visibility})
    except FORM_ERRORS as error:
        errors = {p.removeprefix("/data"): m for p, m in getattr(error, "fields", {}).items()}
        fields = render_form(version.schema, version.ui_schema, values=data, errors=errors)
        return render_template(
            "entries/fill.html",
            fields=fields,
            visibility=visibility,
            error_count=len(errors) or 1,
            error_message=getattr(error, "message", None),
            **context,
        ), 400
    return _saved(dossier, f"Le formulaire « {version.title} » a été enregistré.")


@bp.get("/entrees/<entry_id>")
def show(entry_id):
    actor = acting_user()
    dossier, entry, earlier = entries.versions_of(actor, entry_id)
    readonly = None
    if entry.kind == "form":
        _, version = forms.get_version(actor, entry.form, entry.form_version)
        readonly = render_readonly(version.schema, version.ui_schema, entry.data)
    return render_template(
        "entries/show.html",
        dossier=dossier,
        entry=entry,
        readonly=readonly,
        earlier=earlier,
        can_edit=policy.can(actor, "entry.edit", (dossier, entry)),
        can_delete=policy.can(actor, "entry.delete", (dossier, entry)),
    )


@bp.route("/entrees/<entry_id>/modifier", methods=["GET", "POST"])
def edit(entry_id):
    actor = acting_user()
    dossier, entry = entries.get_entry(actor, entry_id, "entry.edit")
    version = None
    if entry.kind == "form":
        _, version = forms.get_version(actor, entry.form, entry.form_version)
    context = {"dossier": dossier, "entry": entry, "version": version}
    if request.method == "GET":
        values = {
            "title": entry.title or "",
            "note": entry.text or "",
            "visibility": entry.visibility,
        }
        fields = (
            render_form(version.schema, version.ui_schema, values=entry.data) if version else None
        )
        return render_template(
            "entries/edit.html", values=values, errors={}, fields=fields, **context
        )
    data = _posted("title", "visibility")
    if entry.kind == "note":
        data["note"] = request.form.get("note", "")
    elif version is not None:
        data["data"] = coerce(version.schema, request.form)
    try:
        entries.update_entry(actor, entry_id, data, int_arg("version", source=request.form))
    except FORM_ERRORS as error:
        errors = getattr(error, "fields", {})
        fields = None
        if version is not None:
            data_errors = {p.removeprefix("/data"): m for p, m in errors.items()}
            fields = render_form(
                version.schema, version.ui_schema, values=data.get("data"), errors=data_errors
            )
        return render_template(
            "entries/edit.html",
            values=request.form,
            errors=errors,
            fields=fields,
            error_message=getattr(error, "message", None),
            **context,
        ), status_of(error)
    flash("La modification est enregistrée ; la version précédente est conservée.", "success")
    return redirect(url_for("entries.show", entry_id=entry_id))


@bp.post("/entrees/<entry_id>/supprimer")
def delete(entry_id):
    actor = acting_user()
    reason = request.form.get("reason", "").strip()
    entry = entries.delete_entry(actor, entry_id, {"reason": reason} if reason else {})
    return _saved(
        services.find(entry.dossier), "L'élément a été supprimé (la suppression est tracée)."
    )


@bp.get("/entrees/<entry_id>/fichier")
@documents.serves_files
def download(entry_id):
    entry, stored = entries.open_document(acting_user(), entry_id)
    return documents.send(entry, stored)


@bp.get("/entrees/<entry_id>/apercu")
@documents.serves_files
def preview(entry_id):
    """A photo shown in the page (raster images only; anything else is a 404 here)."""
    entry, stored = entries.open_document(acting_user(), entry_id)
    if entry.content_type not in documents.INLINE_IMAGES:
        abort(404)
    return documents.send(entry, stored, inline=True)
