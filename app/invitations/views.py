"""Invitations in the browser: invite someone (from the directory, a circle of care, a
conversation, or from scratch), copy the ready-made text, follow my invitations."""

from flask import Blueprint, flash, redirect, render_template, request, url_for

from app.clock import utcnow
from app.forms import FORM_ERRORS, acting_user, signed_in_only, status_of
from app.invitations import services
from app.invitations.models import STATUSES

bp = Blueprint("invitations", __name__)
signed_in_only(bp)
FIELDS = ("email", "name", "profession", "note", "professional", "dossier", "conversation")


def _page(values, status=200, error=None, sent=None):
    actor = acting_user()
    return render_template(
        "invitations/index.html",
        values=values,
        errors=getattr(error, "fields", {}),
        error_message=getattr(error, "message", None),
        invitations=services.mine(actor),
        statuses=STATUSES,
        now=utcnow(),
        sent=sent,
    ), status


@bp.get("/invitations")
def index():
    """The form, prefilled from where one comes (?professional=, ?dossier=, ?conversation=,
    ?name=, ?email=), and my invitations."""
    return _page({name: request.args[name] for name in FIELDS if request.args.get(name)})


@bp.post("/invitations")
def create():
    actor = acting_user()
    data = {
        name: request.form[name].strip() for name in FIELDS if request.form.get(name, "").strip()
    }
    try:
        invitation, link = services.invite(actor, data)
    except FORM_ERRORS as error:
        return _page(request.form, status_of(error), error)
    flash(f"L'invitation est envoyée à {invitation.email}.", "success")
    # The link is shown this once (only its hash is kept), in the text to copy.
    return _page({}, sent={"invitation": invitation, "text": services.text_of(invitation, link)})


@bp.post("/invitations/<invitation_id>/annuler")
def revoke(invitation_id):
    try:
        services.revoke(acting_user(), invitation_id)
    except FORM_ERRORS as error:
        flash(error.message, "danger")
    else:
        flash("L'invitation est annulée : son lien ne fonctionne plus.", "success")
    return redirect(url_for("invitations.index"))
