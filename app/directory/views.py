"""The directory in the browser: the search (also on a phone), a professional's profile with
what one can do from it (invite, add to a circle of care, write), the entries structure
admins add by hand, and the platform admins' RPPS import (upload, progress bar, report)."""

import tempfile
from pathlib import Path

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from app import policy
from app.directory import imports, search
from app.directory import services as directory
from app.dossiers import listing
from app.forms import FORM_ERRORS, acting_user, signed_in_only, status_of
from app.reference import PROFESSIONS
from app.uploads import accepts_large_uploads
from app.validation import InvalidInput

bp = Blueprint("directory", __name__, url_prefix="/annuaire")
signed_in_only(bp)
MAX_IMPORT = 2 * 1024**3  # the national extract is several hundred MB
MANUAL_FIELDS = ("last_name", "first_name", "profession", "email", "mss", "site_name",
                 "address", "postcode", "commune", "phone")  # fmt: skip


@bp.get("")
def index():
    """The search form and, once something is asked, a page of results."""
    actor = acting_user()
    results, after, errors, asked = [], None, {}, bool(request.args)
    try:
        criteria = search.Criteria.from_args(request.args)
        if asked:
            results, after = search.search(actor, criteria, request.args.get("after"))
    except InvalidInput as refused:
        criteria, errors = search.Criteria(), refused.fields
    template = (
        "directory/_results.html" if request.headers.get("HX-Request") else "directory/search.html"
    )
    return render_template(
        template,
        criteria=criteria,
        values=request.args,
        errors=errors,
        asked=asked,
        results=results,
        after=after,
        specialties=search.specialties(),
        professions=PROFESSIONS,
        can_add=policy.can(actor, "directory.add"),
    ), (400 if errors else 200)


@bp.get("/<professional_id>")
def profile(professional_id):
    actor = acting_user()
    professional = search.get(actor, professional_id)
    return render_template("directory/profile.html", professional=professional,
                           actions=search.actions(actor, professional))  # fmt: skip


@bp.route("/<professional_id>/cercle", methods=["GET"])
def choose_circle(professional_id):
    """Add the professional to the circle of care of one of my dossiers: which one."""
    actor = acting_user()
    professional = search.get(actor, professional_id)
    query = request.args.get("q", "")[: listing.MAX_QUERY]
    dossiers, _ = listing.list_dossiers(actor, query, "mine", "activity", per_page=20)
    managed = [d for d in dossiers if policy.can(actor, "dossier.manage_members", d)]
    return render_template("directory/circle.html", professional=professional, dossiers=managed,
                           query=query)  # fmt: skip


@bp.route("/nouveau", methods=["GET", "POST"])
def new_professional():
    """A professional the RPPS does not list (the social and medico-social sectors)."""
    actor = acting_user()
    policy.require(actor, "directory.add")
    if request.method == "GET":
        return render_template("directory/new.html", values={}, errors={})
    data = {k: request.form.get(k, "").strip() for k in MANUAL_FIELDS}
    try:
        professional = directory.add_professional(actor, data)
    except FORM_ERRORS as refused:
        return render_template("directory/new.html", values=request.form,
                               errors=getattr(refused, "fields", {}),
                               error_message=refused.message), status_of(refused)  # fmt: skip
    flash(f"{professional.name} est maintenant dans l'annuaire.", "success")
    return redirect(url_for("directory.profile", professional_id=professional.id))


@bp.get("/import")
def import_page():
    actor = acting_user()
    return render_template("directory/import.html", runs=imports.recent(actor))


@bp.post("/import")
@accepts_large_uploads(MAX_IMPORT)
def start_import():
    """The upload is streamed to a file (never held in memory), then imported in the
    background; the page shows its progress."""
    actor = acting_user()
    imports.recent(actor)  # the policy, before reading the body
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return render_template(
            "directory/import.html", runs=imports.recent(actor), error="Choisissez un fichier."
        ), 400
    folder = Path(current_app.config["PARCOURS_DATA_DIR"]) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".txt", delete=False) as kept:
        upload.save(kept)
    record = imports.start_in_background(actor, kept.name, Path(upload.filename).name[:200])
    return redirect(url_for("directory.import_status", import_id=record.id))


@bp.get("/import/<import_id>")
def import_status(import_id):
    record = imports.get(acting_user(), import_id)
    template = (
        "directory/_progress.html"
        if request.headers.get("HX-Request")
        else ("directory/import_status.html")
    )
    return render_template(template, record=record)
