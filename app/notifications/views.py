"""Notifications in the browser: the bell's number, the list (mark one or all read), the
preferences, the signed unsubscribe link (no sign-in) and the platform admins' failed e-mails."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.extensions import csrf
from app.forms import acting_user
from app.notifications import services
from app.notifications.kinds import CHANNELS, KINDS
from app.validation import InvalidInput

bp = Blueprint("notifications", __name__)
PER_PAGE = 20


@bp.app_template_global()
def unread_notifications():
    """The bell's number for the signed-in user (one read by key per request)."""
    if not current_user.is_authenticated:
        return 0
    return max(0, services.navigation_counters(current_user).get("count", 0))


@bp.app_template_global()
def unread_messages():
    if not current_user.is_authenticated:
        return 0
    return max(0, services.navigation_counters(current_user).get("messages", 0))


def _internal(path):
    """Only a path of this site (a notice's link is ours, but never redirect elsewhere)."""
    return path if path.startswith("/") and not path.startswith("//") else url_for("main.index")


@bp.get("/notifications")
@login_required
def index():
    actor = acting_user()
    unread = request.args.get("filtre") == "non-lues"
    found, after = services.page(
        actor, unread=unread, after=request.args.get("apres"), per_page=PER_PAGE
    )
    return render_template(
        "notifications/index.html",
        notifications=found,
        after=after,
        unread=unread,
        names=services.dossier_names(actor, found),
    )


@bp.get("/notifications/<notification_id>")
@login_required
def follow(notification_id):
    """Follow a notice's link, marking it read: what the e-mails and the list point to. (A GET
    that marks: it only ever concerns one's own notice, and opening it is reading it.)"""
    notification = services.mark_read(acting_user(), notification_id)
    return redirect(_internal(notification.url))


@bp.post("/notifications/<notification_id>/lu")
@login_required
def mark_read(notification_id):
    services.mark_read(acting_user(), notification_id)
    return redirect(url_for("notifications.index", filtre=request.form.get("filtre") or None))


@bp.post("/notifications/tout-lu")
@login_required
def mark_all_read():
    marked = services.mark_all_read(acting_user())
    flash(_("%(count)s notification(s) marquée(s) comme lue(s).", count=marked), "success")
    return redirect(url_for("notifications.index"))


@bp.route("/notifications/preferences", methods=["GET", "POST"])
@login_required
def preferences():
    actor = acting_user()
    errors, status = {}, 200
    if request.method == "POST":
        chosen = {kind: request.form[kind] for kind in KINDS if kind in request.form}
        try:
            services.update_preferences(actor, {"kinds": chosen})
        except InvalidInput as error:
            errors, status = error.fields, 400
        else:
            flash(_("Vos préférences de notification sont enregistrées."), "success")
            return redirect(url_for("notifications.preferences"))
    preference = services.get_preferences(actor)
    return render_template(
        "notifications/preferences.html",
        preference=preference,
        chosen=services.preferences_json(preference)["kinds"],
        kinds=KINDS,
        channels=CHANNELS,
        errors=errors,
    ), status


@bp.post("/notifications/preferences/e-mails")
@login_required
def email_switch():
    """Stop every e-mail ("ne plus rien recevoir par e-mail") or receive them again: one click."""
    wanted = request.form.get("email") == "on"
    services.update_preferences(acting_user(), {"email": wanted})
    if wanted:
        flash(_("Vous recevez de nouveau les e-mails choisis ci-dessous."), "success")
    else:
        flash(_("Vous ne recevrez plus aucun e-mail de notification."), "success")
    return redirect(url_for("notifications.preferences"))


# The link of every e-mail: no session, so no CSRF token; the signed token is the proof. The
# POST is also what mail clients send for RFC 8058's one-click List-Unsubscribe.
@bp.route("/notifications/desabonnement/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe(token):
    if request.method == "GET":
        services.account_of_link(token)  # a forged link: 404 before any button
        return render_template("notifications/unsubscribe.html", token=token, done=False)
    services.unsubscribe(token)
    return render_template("notifications/unsubscribe.html", token=token, done=True)


@bp.get("/admin/e-mails")
@login_required
def failed_mails():
    return render_template(
        "notifications/failed_mails.html", mails=services.failed_mails(acting_user())
    )


@bp.post("/admin/e-mails/<mail_id>/renvoyer")
@login_required
def retry_mail(mail_id):
    services.retry_mail(acting_user(), mail_id)
    flash(_("L'e-mail est remis dans la file d'envoi."), "success")
    return redirect(url_for("notifications.failed_mails"))
