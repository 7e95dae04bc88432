"""The public account request pages: the form (prefilled by an invitation's link), what
happens next, the e-mail confirmation link. No sign-in; rate-limited."""

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for

from app.extensions import limiter
from app.forms import FORM_ERRORS, status_of
from app.invitations import services as invitations
from app.onboarding import services
from app.reference import PROFESSIONS

bp = Blueprint("onboarding", __name__)
FIELDS = ("last_name", "first_name", "email", "profession", "rpps", "structure_name", "phone",
          "message")  # fmt: skip
# The session's key for what a sign-in plugin learned of someone who has no account yet (names,
# RPPS number, e-mail): the form's first values until the request is sent.
PREFILL = "account_request_prefill"


def _refused(error):
    return render_template("errors/link_refused.html", error=error), error.status


def _form(values, invitation, token, error=None):
    return render_template(
        "onboarding/request.html",
        values=values,
        errors=getattr(error, "fields", {}),
        error_message=getattr(error, "message", None),
        invitation=invitation,
        token=token,
        professions=sorted(PROFESSIONS.items(), key=lambda item: item[1][0]),
    ), status_of(error) if error else 200


@bp.route("/demande-de-compte", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def request_account():
    token = request.values.get("invitation") or ""
    invitation = None
    if token:
        try:
            invitation = invitations.open_link(token)
        except invitations.LinkRefused as error:
            return _refused(error)
    if request.method == "GET":
        values = services.prefill(invitation) if invitation else session.get(PREFILL, {})
        return _form(values, invitation, token)
    data = {name: request.form.get(name, "") for name in FIELDS if request.form.get(name, "")}
    try:
        made = services.submit(data, invitation)
    except invitations.LinkRefused as error:
        return _refused(error)
    except FORM_ERRORS as error:
        return _form(request.form, invitation, token, error)
    session.pop(PREFILL, None)
    return redirect(services.follow_link(made, external=False))


@bp.route("/demande-de-compte/suivi/<token>", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def follow(token):
    """The requester's page: status, the team's messages, their answer when asked."""
    try:
        made = services.request_of_link(token)
    except invitations.LinkRefused as error:
        return _refused(error)
    error = None
    if request.method == "POST":
        try:
            made = services.answer(made, {"text": request.form.get("text", "")})
        except FORM_ERRORS as refused:
            error = refused
        else:
            return redirect(url_for("onboarding.follow", token=token))
    return render_template("onboarding/follow.html", request=made, error=error), (
        status_of(error) if error else 200
    )


@bp.get("/demande-de-compte/confirmer/<token>")
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])
def confirm(token):
    try:
        made = services.confirm(token)
    except invitations.LinkRefused as error:
        return _refused(error)
    return redirect(services.follow_link(made, external=False))
