"""The sign-in's two pages: leave for the provider, come back from it. Both are rate-limited
as the password sign-in is (each return costs requests to the provider)."""

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user

from app.accounts.views import complete_sign_in, safe_next
from app.errors import ServiceError
from app.extensions import limiter
from app.notifications.mail import external_url
from app.onboarding.views import PREFILL
from plugins.oidc import protocol, services

bp = Blueprint("plugin_oidc", __name__, template_folder="templates")
PENDING = "oidc_pending"  # the session's key between leaving for the provider and coming back
ID_TOKEN = "oidc_id_token"  # noqa: S105 - the session key of the sign-in's ID token
MAX_KEPT_TOKEN = 2500


def _rate():
    return current_app.config["LOGIN_RATE_LIMIT"]


def _redirect_uri():
    # From BASE_URL, as registered with the provider: not from the Host header of a request.
    return external_url("plugin_oidc.callback")


def _refused(error):
    return render_template("oidc/refused.html", error=error), error.status


@bp.get("/connexion/oidc")
@limiter.limit(_rate)
def start():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    try:
        url, pending = protocol.authorization_request(current_app.config, _redirect_uri())
    except ServiceError as error:
        return _refused(error)
    session[PENDING] = {**pending, "next": safe_next(request.args.get("next"))}
    return redirect(url)


@bp.get("/connexion/oidc/retour")
@limiter.limit(_rate)
def callback():
    config = current_app.config
    pending = session.pop(PENDING, None)  # one use, whatever the answer
    try:
        outcome = services.sign_in(config, pending, request.args, _redirect_uri())
    except ServiceError as error:
        return _refused(error)
    if outcome.user is None:
        session[PREFILL] = outcome.prefill
        flash(outcome.message, "info")
        return redirect(url_for("onboarding.request_account"))
    response = complete_sign_in(
        outcome.user, pending["next"], second_factor_done=config["OIDC_STRONG_AUTH"]
    )
    # For the provider's sign-out (id_token_hint). The session is a signed cookie of at most
    # 4 kB: a token too large to fit is not kept, and signing out ends Parcours' session only.
    if len(outcome.id_token) <= MAX_KEPT_TOKEN:
        session[ID_TOKEN] = outcome.id_token
    else:
        current_app.logger.warning(
            "OIDC: an ID token of %d characters is not kept; signing out will not end the "
            "provider's session", len(outcome.id_token))  # fmt: skip
    return response


def sign_out_url(session):
    """Where signing out of Parcours sends the browser next, for the provider's session to
    end too (the provider then sends it back to the sign-in page); None if it was not used."""
    id_token = session.get(ID_TOKEN)
    if not id_token:
        return None
    return protocol.end_session_url(current_app.config, id_token, external_url("accounts.login"))
