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

from app import plugins
from app.accounts import device, links, services, sessions, totp
from app.clock import utcnow
from app.extensions import limiter
from app.forms import FORM_ERRORS, acting_user, posted, rerender
from app.validation import InvalidInput

bp = Blueprint("accounts", __name__)
PENDING = "second_factor_pending"  # the session's key between the password and the code
SETUP_KEY = "second_factor_setup"
CODE_WITHIN = 5 * 60  # seconds after the password to type the code
MAX_CODE_FAILURES = 5


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
    accounts = device.known()
    if request.method == "GET":
        chosen = request.args.get("email", "")[:254]
        return render_template("accounts/login.html", values={"email": chosen}, errors={},
                               accounts=accounts)  # fmt: skip
    try:
        user = services.authenticate(
            request.form.get("email", ""), request.form.get("password", ""), request.remote_addr
        )
    except services.LoginFailed as error:
        return rerender("accounts/login.html", error, status=401, accounts=accounts)
    return complete_sign_in(user, safe_next(request.args.get("next")))


def complete_sign_in(user, target, second_factor_done=False):
    """Open a new session for `user`, whose first step of signing in succeeded (a password,
    or a sign-in plugin's provider): the second factor's code comes next if the account has
    one, unless `second_factor_done` (a provider that authenticates strongly itself)."""
    session.clear()  # a new session at sign-in: nothing from before survives (fixation)
    if user.totp_secret and not second_factor_done:
        # The first step was right: the code comes next, within a few minutes.
        session[PENDING] = {"user": user.get_id(), "at": int(utcnow().timestamp()),
                            "next": target, "failures": 0}  # fmt: skip
        return redirect(url_for("accounts.login_code"))
    return _signed_in(user, target)


def _signed_in(user, target):
    login_user(user)
    session[sessions.SESSION_ID] = services.open_session(user)
    session["seen_at"] = int(utcnow().timestamp())
    flash(_("Bienvenue, %(name)s.", name=user.name), "success")
    return device.remember(redirect(target or url_for("main.index")), user)


@bp.route("/connexion/code", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login_code():
    """The second step of signing in, for an account with a second factor."""
    pending = session.get(PENDING)
    user = services.signing_in_user(pending["user"]) if pending else None
    if user is None or utcnow().timestamp() - pending["at"] > CODE_WITHIN:
        session.pop(PENDING, None)
        flash(_("Reprenez la connexion depuis le début."), "warning")
        return redirect(url_for("accounts.login"))
    if request.method == "GET":
        return render_template("accounts/login_code.html", values={}, errors={})
    if totp.check(user, request.form.get("code", "")):
        session.pop(PENDING, None)
        return _signed_in(user, pending["next"])
    pending["failures"] += 1
    if pending["failures"] >= MAX_CODE_FAILURES:
        session.pop(PENDING, None)
        flash(_("Trop de codes erronés : reprenez la connexion depuis le début."), "warning")
        return redirect(url_for("accounts.login"))
    session[PENDING] = pending
    error = InvalidInput({"/code": totp.WRONG}, totp.WRONG)
    return rerender("accounts/login_code.html", error, status=401)


@bp.post("/deconnexion")
@login_required
def logout():
    ending = _end_session()
    flash(_("Vous êtes déconnecté."), "info")
    return redirect(ending or url_for("accounts.login"))


@bp.post("/changer-de-compte")
@login_required
def switch_account():
    """On a shared device: this session ends, the sign-in page offers the accounts used here."""
    ending = _end_session()
    flash(_("Choisissez le compte avec lequel vous connecter."), "info")
    return redirect(ending or url_for("accounts.login"))


@bp.post("/profil/deconnexion-partout")
@login_required
def sign_out_everywhere():
    """Every session of the account ends, on every device (a phone lost, a shared computer
    left signed in)."""
    ending = _end_session(everywhere=True)
    flash(_("Toutes vos sessions sont fermées, sur tous vos appareils."), "info")
    return redirect(ending or url_for("accounts.login"))


def _end_session(everywhere=False):
    """End the session on the server (every copy of its cookie with it), or with
    `everywhere` every session of the account, traced; return the sign-in provider's address
    that ends its own session too (Pro Santé Connect's), if the session was opened through
    one."""
    ending = plugins.sign_out_url(session)
    if everywhere:
        services.close_all_sessions(acting_user())
    else:
        services.close_session(acting_user(), session.get(sessions.SESSION_ID))
    session.clear()
    logout_user()  # after the clear: it leaves its marker that a remember-me cookie must go
    return ending


@bp.post("/connexion/oublier/<user_id>")
def forget_account(user_id):
    """Take an account off this device's list on the sign-in page."""
    return device.forget(redirect(url_for("accounts.login")), user_id[:40])


@bp.route("/profil", methods=["GET", "POST"])
@login_required
def profile():
    if request.method == "POST":
        try:
            # The name and the profession are sent on: the service refuses a change of them.
            services.update_profile(acting_user(), posted("name", "profession", "phone"))
        except FORM_ERRORS as error:
            return rerender("accounts/profile.html", error)
        flash(_("Votre profil est enregistré."), "success")
        return redirect(url_for("accounts.profile"))
    return render_template("accounts/profile.html", values=_profile_values(), errors={})


@bp.route("/profil/double-authentification", methods=["GET", "POST"])
@login_required
def second_factor():
    """Set up the second factor: scan the QR code, prove it with a code, keep the recovery
    codes; or turn it off (unless it is mandatory)."""
    actor = acting_user()
    if request.method == "POST" and request.form.get("action") == "disable":
        try:
            totp.disable(actor, request.form.get("password", ""))
        except InvalidInput as error:
            return _second_factor_page(actor, error.fields, 400)
        flash(_("La double authentification est désactivée."), "info")
        return redirect(url_for("accounts.profile"))
    if request.method == "POST" and not actor.totp_secret:
        secret = session.get(SETUP_KEY)
        try:
            if not secret:
                raise InvalidInput({"/code": totp.WRONG}, totp.WRONG)
            codes = totp.enable(actor, secret, request.form.get("code", ""))
        except InvalidInput as error:
            return _second_factor_page(actor, error.fields, 400)
        session.pop(SETUP_KEY, None)
        return render_template("accounts/second_factor.html", recovery_codes=codes,
                               errors={})  # fmt: skip
    return _second_factor_page(actor, {})


def _second_factor_page(actor, errors, status=200):
    qr = secret = None
    if not actor.totp_secret:
        secret = session.get(SETUP_KEY) or totp.new_secret()
        session[SETUP_KEY] = secret  # kept until proven by a code, then in the account
        qr = totp.qr_svg(actor, secret)
    return render_template("accounts/second_factor.html", qr=qr, secret=secret, errors=errors,
                           required=totp.required_for(actor)), status  # fmt: skip


def _profile_values():
    return {"phone": current_user.phone or ""}


@bp.post("/profil/mot-de-passe")
@login_required
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])
def change_password():
    try:
        user = services.change_password(
            acting_user(),
            posted("current_password", "new_password"),
            session.get(sessions.SESSION_ID),
        )
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
