"""The CGU in the browser: read them (also signed out), accept them before any other page,
and (platform admins) publish a new version."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app import policy
from app.accounts.views import safe_next
from app.forms import FORM_ERRORS, acting_user, status_of
from app.paging import int_arg
from app.terms import services
from app.terms.models import TermsVersion

bp = Blueprint("terms", __name__)
# What a user who has not accepted the current version may still open.
OPEN = {
    "static", "terms.show", "terms.accept", "accounts.logout", "accounts.login",
    "main.legal", "main.privacy", "main.healthz", "main.help_page",
}  # fmt: skip


@bp.before_app_request
def ask_acceptance_first():
    """Before any other page: the current CGU, if the signed-in user has not accepted them.
    (The API answers 403 instead: app/api/core.py.)"""
    if request.endpoint in OPEN or request.blueprint == "api" or request.endpoint is None:
        return None
    if not current_user.is_authenticated or services.must_accept(current_user) is None:
        return None
    return redirect(url_for("terms.accept", next=request.full_path.rstrip("?")))


@bp.get("/cgu")
def show():
    """The current version (or an older one, ?version=N), signed in or not."""
    wanted = int_arg("version")
    shown = TermsVersion.objects(version=wanted).first() if wanted else services.current()
    return render_template("terms/show.html", terms=shown, latest=services.current())


@bp.route("/cgu/accepter", methods=["GET", "POST"])
@login_required
def accept():
    actor = acting_user()
    target = safe_next(request.values.get("next")) or url_for("main.index")
    pending = services.must_accept(actor)
    if pending is None:
        return redirect(target)
    error = None
    if request.method == "POST":
        if request.form.get("accepted") != "1":
            error = "Cochez la case pour accepter les conditions d'utilisation."
        else:
            try:
                services.accept(actor, request.form.get("version"))
            except FORM_ERRORS as refused:
                error, pending = refused.message, services.current()
            else:
                flash("Merci : vous avez accepté les conditions d'utilisation.", "success")
                return redirect(target)
    first = not actor.terms_version
    return render_template("terms/accept.html", terms=pending, error=error, first=first,
                           next=target), (400 if error else 200)  # fmt: skip


@bp.route("/admin/cgu", methods=["GET", "POST"])
@login_required
def publish():
    actor = acting_user()
    policy.require(actor, "terms.publish")
    values, errors, message = request.form, {}, None
    if request.method == "POST":
        try:
            published = services.publish(actor, {k: request.form.get(k, "") for k in
                                                  ("text", "summary")})  # fmt: skip
        except FORM_ERRORS as refused:
            errors, message = getattr(refused, "fields", {}), refused.message
            return render_template("terms/publish.html", versions=services.versions(actor),
                                   values=values, errors=errors,
                                   error_message=message), status_of(refused)  # fmt: skip
        flash(f"Version {published.version} publiée : chacun l'acceptera à sa prochaine page.",
              "success")  # fmt: skip
        return redirect(url_for("terms.publish"))
    latest = services.current()
    return render_template("terms/publish.html", versions=services.versions(actor),
                           values={"text": latest.text if latest else ""}, errors=errors,
                           error_message=message)  # fmt: skip
