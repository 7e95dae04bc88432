"""Sign-in, sign-out, profile and personal API tokens."""

from urllib.parse import urlsplit

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
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from app.accounts import links, services
from app.extensions import limiter
from app.forms import acting_user, posted, rerender
from app.validation import InvalidInput

bp = Blueprint("accounts", __name__)


def safe_next(target):
    """Only a path of this site: never an absolute or protocol-relative URL."""
    if not target:
        return None
    if "\\" in target or any(ord(char) < 32 or ord(char) == 127 for char in target):
        return None  # browsers read "/\\host" as "//host" and drop tabs and newlines
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/connexion", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    if request.method == "GET":
        return render_template("accounts/login.html", values={}, errors={})
    try:
        user = services.authenticate(
            request.form.get("email", ""), request.form.get("password", "")
        )
    except services.LoginFailed as error:
        return rerender("accounts/login.html", error, status=401)
    session.clear()  # a new session at sign-in: nothing from before survives (fixation)
    login_user(user)
    flash(_("Bienvenue, %(name)s.", name=user.name), "success")
    return redirect(safe_next(request.args.get("next")) or url_for("main.index"))


@bp.post("/deconnexion")
@login_required
def logout():
    services.record_logout(acting_user())
    logout_user()
    flash(_("Vous êtes déconnecté."), "info")
    return redirect(url_for("accounts.login"))


@bp.route("/profil", methods=["GET", "POST"])
@login_required
def profile():
    if request.method == "POST":
        try:
            services.update_profile(acting_user(), posted("name", "profession", "phone"))
        except InvalidInput as error:
            return rerender("accounts/profile.html", error)
        flash(_("Votre profil est enregistré."), "success")
        return redirect(url_for("accounts.profile"))
    return render_template("accounts/profile.html", values=_profile_values(), errors={})


def _profile_values():
    return {
        "name": current_user.name,
        "profession": current_user.profession or "",
        "phone": current_user.phone or "",
    }


@bp.post("/profil/mot-de-passe")
@login_required
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])
def change_password():
    try:
        user = services.change_password(acting_user(), posted("current_password", "new_password"))
    except InvalidInput as error:
        return render_template(
            "accounts/profile.html",
            values=_profile_values(),
            errors={},
            password_errors=error.fields,
        ), 400
    login_user(user)  # the session id changed with the password: keep this session
    flash(_("Votre mot de passe est modifié. Vos autres sessions sont fermées."), "success")
    return redirect(url_for("accounts.profile"))


@bp.route("/profil/jetons", methods=["GET", "POST"])
@login_required
def tokens():
    new_token = None
    if request.method == "POST":
        try:
            _, new_token = services.create_token(acting_user(), acting_user(), posted("name"))
        except InvalidInput as error:
            return rerender(
                "accounts/tokens.html",
                error,
                tokens=services.list_tokens(acting_user(), acting_user()),
            )
    return render_template(
        "accounts/tokens.html",
        values={},
        errors={},
        new_token=new_token,
        tokens=services.list_tokens(acting_user(), acting_user()),
    )


@bp.post("/profil/jetons/<token_id>/revoquer")
@login_required
def revoke_token(token_id):
    services.revoke_token(acting_user(), acting_user(), token_id)
    flash(_("Le jeton est révoqué : il ne donne plus accès à l'API."), "success")
    return redirect(url_for("accounts.tokens"))


# --- choosing a password from a link (welcome, forgotten password) ---------------------------


@bp.route("/mot-de-passe/<token>", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def choose_password(token):
    try:
        user = links.user_of(token)
    except links.LinkRefused as error:
        return render_template("errors/link_refused.html", error=error, password_link=True), (
            error.status
        )
    if request.method == "GET":
        return render_template("accounts/choose_password.html", user=user, values={}, errors={})
    try:
        links.choose_password(token, posted("password", "confirmation"))
    except (InvalidInput, links.LinkRefused) as error:
        return rerender("accounts/choose_password.html", error, user=user)
    flash(_("Votre mot de passe est enregistré : connectez-vous."), "success")
    return redirect(url_for("accounts.login"))


@bp.route("/mot-de-passe-oublie", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def forgotten_password():
    if request.method == "GET":
        return render_template("accounts/forgotten.html", values={}, errors={})
    links.send_reset(request.form.get("email", ""))
    return render_template("accounts/forgotten.html", sent=True, values={}, errors={})
