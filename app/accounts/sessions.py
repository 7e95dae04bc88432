"""What every signed-in page checks first: that its session is still open on the account
(the cookie holds the session's id, the account the keys of its open sessions: signing out
takes one away, and every copy of that cookie stops working); the session's inactivity (it
ends after SESSION_IDLE_MINUTES without a page opened; polls do not count); and an admin's
missing second factor (they set it up before anything else)."""

from flask import current_app, flash, redirect, request, session, url_for
from flask_login import current_user, logout_user

from app.accounts import services, totp
from app.clock import utcnow

SESSION_ID = "session_id"  # the session's key of its id (app.accounts.services.open_session)

# Requests made by a page on its own (htmx polls): they do not keep a session alive.
BACKGROUND = {"discussions.since", "directory.import_status"}
# What an admin without a second factor may still open.
SETUP_OPEN = {
    "static", "accounts.second_factor", "accounts.logout", "terms.show", "terms.accept",
    "main.legal", "main.privacy", "main.help_page", "main.healthz",
}  # fmt: skip
EXPIRED = "Votre session a expiré après {minutes} minutes d'inactivité : reconnectez-vous."


def init_app(app):
    app.before_request(end_idle_session)
    app.before_request(ask_second_factor_setup)


def load_user(user_and_nonce):
    """flask-login's loader: the cookie's account, if this session is still open on it. It
    reads the user once, as before: the open sessions are in the account's document."""
    return services.load_session_user(user_and_nonce, session.get(SESSION_ID))


def end_idle_session():
    # Static files and the API (tokens) have no session to end: no user is loaded for them.
    if request.endpoint in (None, "static") or request.blueprint == "api":
        return None
    if not current_user.is_authenticated:
        return None
    now, seen = int(utcnow().timestamp()), session.get("seen_at")
    minutes = current_app.config["SESSION_IDLE_MINUTES"]
    if seen is not None and now - seen > minutes * 60:
        # Ended on the server too: a copy of the cookie, kept busy, does not outlive it.
        services.close_session(current_user._get_current_object(), session.get(SESSION_ID),
                               reason="idle")  # fmt: skip
        logout_user()
        session.clear()
        flash(EXPIRED.format(minutes=minutes), "warning")
        target = url_for("accounts.login", next=request.full_path.rstrip("?"))
        if request.headers.get("HX-Request"):
            response = current_app.make_response(("", 204))
            response.headers["HX-Redirect"] = url_for("accounts.login")
            return response
        return redirect(target)
    if request.endpoint not in BACKGROUND and (seen is None or now - seen >= 15):
        session["seen_at"] = now  # not on every request: the cookie changes less often
    return None


def ask_second_factor_setup():
    if request.blueprint == "api" or request.endpoint in SETUP_OPEN:
        return None
    if not current_user.is_authenticated or current_user.totp_secret:
        return None
    if not totp.required_for(current_user):
        return None
    flash(totp.REQUIRED + " Activez-la pour continuer.", "warning")
    return redirect(url_for("accounts.second_factor"))
