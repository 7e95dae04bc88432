"""Platform administration: accounts, the habilitation matrix and the audit trail."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app import audit, policy
from app.accounts import services
from app.dossiers import habilitations as matrix
from app.forms import FORM_ERRORS, acting_user, posted, rerender, signed_in_only
from app.paging import int_arg, page_number
from app.reference import DATA_CATEGORIES, PROFESSION_CATEGORIES
from app.structures.services import list_structures, structures_by_id

bp = Blueprint("admin", __name__, url_prefix="/admin")

USER_FIELDS = ("email", "name", "profession", "phone", "password", "status")
PER_PAGE = 50

signed_in_only(bp)


@bp.get("/utilisateurs")
def users():
    query = request.args.get("q", "")
    page = page_number()
    found = list(services.list_users(acting_user(), query, page, PER_PAGE))
    return render_template(
        "admin/users.html", users=found, query=query, page=page, per_page=PER_PAGE
    )


@bp.route("/utilisateurs/nouveau", methods=["GET", "POST"])
def create_user():
    policy.require(acting_user(), "user.create")
    structures = list_structures(acting_user(), include_inactive=False)
    if request.method == "POST":
        data = posted(*USER_FIELDS, booleans=("platform_admin",))
        structure_key, roles = request.form.get("structure"), request.form.getlist("roles")
        if structure_key:
            data["memberships"] = [{"structure": structure_key, "roles": roles}]
        try:
            user = services.create_user(acting_user(), data)
        except FORM_ERRORS as error:
            return rerender("admin/user_form.html", error, user=None, structures=structures)
        flash(_("Le compte de %(name)s est créé.", name=user.name), "success")
        return redirect(url_for("admin.edit_user", user_id=user.id))
    return render_template(
        "admin/user_form.html", values={}, errors={}, user=None, structures=structures
    )


@bp.route("/utilisateurs/<user_id>", methods=["GET", "POST"])
def edit_user(user_id):
    user = services.get_user(acting_user(), user_id)
    policy.require(acting_user(), "user.edit", user)
    memberships = structures_by_id(m.structure for m in user.memberships)
    if request.method == "POST":
        data = posted(*USER_FIELDS, "reason", booleans=("platform_admin",))
        data.setdefault("phone", "")
        # Required on this form: an emptied field is an error, not "leave unchanged".
        data.setdefault("email", "")
        data.setdefault("name", "")
        try:
            services.update_user(acting_user(), user, data)
        except FORM_ERRORS as error:
            return rerender(
                "admin/user_form.html",
                error,
                user=user,
                memberships=memberships,
            )
        flash(_("Le compte est enregistré."), "success")
        return redirect(url_for("admin.edit_user", user_id=user.id))
    values = {field: user[field] or "" for field in USER_FIELDS if field != "password"}
    values["platform_admin"] = "on" if user.platform_admin else ""
    return render_template(
        "admin/user_form.html", values=values, errors={}, user=user, memberships=memberships
    )


@bp.get("/journal")
def audit_trail():
    action = request.args.get("action", "").strip()
    before = int_arg("before")
    events, next_before = audit.list_events(acting_user(), action, before, PER_PAGE)
    return render_template(
        "admin/audit.html", events=events, action=action, before=before, next_before=next_before
    )


@bp.route("/habilitations", methods=["GET", "POST"])
def habilitations():
    """The matrix: one select per data category and profession category."""
    actor = acting_user()
    policy.require(actor, "habilitation.manage")
    error = None
    if request.method == "POST":
        rules = {
            category: {
                who: request.form.get(f"{category}.{who}", "none") for who in PROFESSION_CATEGORIES
            }
            for category in DATA_CATEGORIES
        }
        try:
            matrix.update_matrix(actor, rules)
        except FORM_ERRORS as failed:
            error = failed
        else:
            flash(_("La matrice d'habilitations est enregistrée."), "success")
            return redirect(url_for("admin.habilitations"))
    return render_template(
        "admin/habilitations.html",
        rules=matrix.matrix(),
        error_message=getattr(error, "message", None),
    ), (400 if error else 200)
