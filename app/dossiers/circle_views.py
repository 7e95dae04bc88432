"""The circle of care page: members, join requests, the professionals the patient refuses."""

from flask import flash, redirect, render_template, request, url_for

from app import policy
from app.directory import services as directory
from app.dossiers import circle, services
from app.dossiers.views import bp
from app.forms import FORM_ERRORS, acting_user, status_of


def _circle_page(dossier, status=200, error=None, query=""):
    actor = acting_user()
    manages = policy.can(actor, "dossier.manage_members", dossier)
    users, professionals = directory.find_people(actor, query) if manages and query else ([], [])
    fields = getattr(error, "fields", {})
    return render_template(
        "dossiers/circle.html",
        dossier=dossier,
        manages=manages,
        requests=circle.pending_requests(actor, dossier) if manages else [],
        query=query,
        users=users,
        professionals=professionals,
        values=request.form,
        errors=fields,
        error_message=getattr(error, "message", None),
    ), status


def _done(dossier, message):
    flash(message, "success")
    return redirect(url_for("dossiers.circle", dossier_id=dossier.id))


@bp.get("/<dossier_id>/cercle", endpoint="circle")
def circle_page(dossier_id):
    dossier = services.get_dossier(acting_user(), dossier_id)
    return _circle_page(dossier, query=request.args.get("q", ""))


def _managed(dossier_id):
    return services.get_dossier(acting_user(), dossier_id, "dossier.manage_members")


def _person():
    return {k: request.form[k] for k in ("user", "professional") if request.form.get(k)}


def _attempt(dossier, change, message):
    """Run `change()`: on success flash `message(result)` and show the circle again; when it
    is refused, the page again with the error and what was typed."""
    try:
        result = change()
    except FORM_ERRORS as error:
        return _circle_page(dossier, status_of(error), error)
    return _done(dossier, message(result))


def _joined(member):
    return f"{member.name} fait maintenant partie du cercle de soins."


@bp.post("/<dossier_id>/cercle/membres")
def add_member(dossier_id):
    dossier = _managed(dossier_id)
    data = {**_person(), "care_role": request.form.get("care_role", "")}
    data.update({k: request.form[k] for k in ("since", "until") if request.form.get(k)})
    return _attempt(dossier, lambda: circle.add_member(acting_user(), dossier, data), _joined)


@bp.post("/<dossier_id>/cercle/sans-compte")
def add_without_account(dossier_id):
    """Someone without an account: a directory entry, then a member (invited later)."""
    dossier = _managed(dossier_id)
    actor = acting_user()
    fields = {
        k: request.form.get(k, "").strip()
        for k in ("last_name", "first_name", "profession", "email")
    }

    def add():
        professional = directory.add_professional(actor, fields)
        data = {"professional": str(professional.id), "care_role": request.form.get("care_role")}
        return circle.add_member(actor, dossier, data)

    return _attempt(dossier, add, _joined)


@bp.post("/<dossier_id>/cercle/membres/<member_id>/retirer")
def remove_member(dossier_id, member_id):
    dossier = _managed(dossier_id)
    member = circle.remove_member(acting_user(), dossier, member_id)
    return _done(dossier, f"{member.name} ne fait plus partie du cercle de soins.")


@bp.post("/<dossier_id>/cercle/refus")
def exclude(dossier_id):
    dossier = _managed(dossier_id)
    data = _person()
    if request.form.get("reason", "").strip():
        data["reason"] = request.form["reason"].strip()
    return _attempt(
        dossier,
        lambda: circle.exclude(acting_user(), dossier, data),
        lambda exclusion: f"Le refus de {exclusion.name} par l'usager est enregistré.",
    )


@bp.post("/<dossier_id>/cercle/demandes/<request_id>")
def decide(dossier_id, request_id):
    dossier = _managed(dossier_id)
    data = {"decision": request.form.get("decision", "")}
    request_id = services.object_id(request_id)
    return _attempt(
        dossier,
        lambda: circle.decide_join(acting_user(), dossier, request_id, data),
        lambda decided: "Demande acceptée." if decided.status == "accepted" else "Demande refusée.",
    )


@bp.post("/<dossier_id>/cercle/referent")
def set_referent(dossier_id):
    dossier = services.get_dossier(acting_user(), dossier_id, "dossier.edit")
    data = {"referent": request.form.get("user", "")}
    return _attempt(
        dossier,
        lambda: services.update_dossier(acting_user(), dossier, data),
        lambda updated: (
            f"{updated.member_for(updated.referent).name} est maintenant le référent du dossier."
        ),
    )
