"""Structures (platform admin) and their members (platform admin, structure admin)."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app import policy
from app.forms import FORM_ERRORS, acting_user, posted, rerender, signed_in_only
from app.structures import services

bp = Blueprint("structures", __name__, url_prefix="/structures")

STRUCTURE_FIELDS = (
    "key",
    "name",
    "sector",
    "kind",
    "finess",
    "siret",
    "address",
    "department",
    "phone",
    "email",
)

signed_in_only(bp)


@bp.get("/")
def index():
    return render_template(
        "structures/list.html", structures=services.list_structures(acting_user())
    )


@bp.route("/nouvelle", methods=["GET", "POST"])
def create():
    policy.require(acting_user(), "structure.create")
    if request.method == "POST":
        try:
            structure = services.create_structure(acting_user(), posted(*STRUCTURE_FIELDS))
        except FORM_ERRORS as error:
            return rerender("structures/form.html", error, structure=None)
        flash(_("La structure « %(name)s » est créée.", name=structure.name), "success")
        return redirect(url_for("structures.index"))
    return render_template("structures/form.html", values={}, errors={}, structure=None)


@bp.route("/<key>/modifier", methods=["GET", "POST"])
def edit(key):
    structure = services.get_structure(acting_user(), key, "structure.edit")
    if request.method == "POST":
        data = {field: request.form.get(field, "").strip() for field in STRUCTURE_FIELDS[1:]}
        try:
            services.update_structure(acting_user(), structure, data)
        except FORM_ERRORS as error:
            return rerender("structures/form.html", error, structure=structure)
        flash(_("La structure est enregistrée."), "success")
        return redirect(url_for("structures.index"))
    values = {field: structure[field] or "" for field in STRUCTURE_FIELDS}
    return render_template("structures/form.html", values=values, errors={}, structure=structure)


@bp.post("/<key>/activation")
def set_active(key):
    structure = services.get_structure(acting_user(), key, "structure.edit")
    active = request.form.get("active") == "1"
    services.update_structure(acting_user(), structure, {"active": active})
    flash(
        _("La structure est réactivée.")
        if active
        else _("La structure est désactivée : ses membres n'y ont plus de rôle."),
        "success",
    )
    return redirect(url_for("structures.index"))


@bp.route("/<key>/membres", methods=["GET", "POST"])
def members(key):
    structure = services.get_structure(acting_user(), key, "structure.manage_members")
    if request.method == "POST":
        data = posted("email", "name", "profession", "password", lists=("roles",))
        try:
            user = services.add_member(acting_user(), structure, data)
        except FORM_ERRORS as error:
            return rerender(
                "structures/members.html",
                error,
                structure=structure,
                members=services.list_members(acting_user(), structure),
            )
        if user.status == "requested":
            flash(
                _(
                    "Le compte de %(name)s est créé : il pourra se connecter une fois vérifié "
                    "par l'équipe de la plateforme.",
                    name=user.name,
                ),
                "success",
            )
        else:
            flash(_("%(name)s est membre de la structure.", name=user.name), "success")
        return redirect(url_for("structures.members", key=key))
    return render_template(
        "structures/members.html",
        structure=structure,
        values={},
        errors={},
        members=services.list_members(acting_user(), structure),
    )


@bp.post("/<key>/membres/<user_id>/roles")
def member_roles(key, user_id):
    structure = services.get_structure(acting_user(), key, "structure.manage_members")
    user = services.get_member(acting_user(), structure, user_id)
    services.set_member_roles(acting_user(), structure, user, posted(lists=("roles",)))
    flash(_("Les rôles de %(name)s sont enregistrés.", name=user.name), "success")
    return redirect(url_for("structures.members", key=key))


@bp.post("/<key>/membres/<user_id>/retirer")
def remove_member(key, user_id):
    structure = services.get_structure(acting_user(), key, "structure.manage_members")
    user = services.get_member(acting_user(), structure, user_id)
    services.remove_member(acting_user(), structure, user)
    flash(_("%(name)s ne fait plus partie de la structure.", name=user.name), "success")
    return redirect(url_for("structures.members", key=key))
