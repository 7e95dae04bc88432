"""The work inbox in the browser: "Mes tâches", "À prendre" and "Suivi" as card lists (one
tap opens a task), filters and sort, counters in the navigation, bulk claim."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.clock import utcnow
from app.forms import acting_user, signed_in_only
from app.inbox import services
from app.paging import page_number
from app.reference import CARE_ROLES
from app.validation import InvalidInput

bp = Blueprint("inbox", __name__)
signed_in_only(bp)
PER_PAGE = 30
SORT_LABELS = {
    "due": "Échéance (en retard d'abord)",
    "recent": "Plus récentes",
    "oldest": "Plus anciennes",
}


@bp.app_template_global()
def inbox_counters():
    """The navigation's numbers for the signed-in user (once per request)."""
    if not current_user.is_authenticated:
        return {}
    return services.counters(acting_user())


@bp.get("/taches")
def index():
    actor = acting_user()
    scope = request.args.get("scope", "mine")
    if scope not in services.SCOPES or (scope == "followed" and not services.follows(actor)):
        scope = "mine"
    error = None
    try:
        filters = services.Filters.from_args(request.args)
    except InvalidInput as refused:
        error, filters = refused, services.Filters()
    found = services.tasks(actor, scope, filters, page_number(), PER_PAGE)
    return render_template(
        "inbox/index.html",
        scope=scope,
        scopes=services.SCOPES,
        follows=services.follows(actor),
        filters=filters,
        sorts=SORT_LABELS,
        page_url=lambda number: url_for(
            "inbox.index", **{**request.args.to_dict(), "page": number}
        ),
        choices=services.choices(actor, scope),
        found=found,
        roles=CARE_ROLES,
        error=error,
        now=utcnow(),
    ), 400 if error else 200


@bp.post("/taches/prendre")
def claim_many():
    actor = acting_user()
    try:
        taken, refused = services.claim_many(actor, request.form.getlist("task"))
    except InvalidInput as error:
        flash(next(iter(error.fields.values())), "danger")
        return redirect(url_for("inbox.index", scope="available"))
    if taken:
        flash(f"{len(taken)} tâche(s) prise(s) : elles sont dans « Mes tâches ».", "success")
    for message in dict.fromkeys(refused.values()):
        flash(message, "warning")
    return redirect(url_for("inbox.index", scope="mine" if taken else "available"))
