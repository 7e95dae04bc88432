"""Home, health check, legal and help pages."""

from flask import Blueprint, jsonify, render_template
from flask_login import login_required

from app import db
from app.accounts.models import User
from app.clock import utcnow
from app.dossiers.listing import list_dossiers
from app.forms import acting_user
from app.structures.services import structures_of

bp = Blueprint("main", __name__)


@bp.get("/")
@login_required
def index():
    actor = acting_user()
    recent, more = list_dossiers(actor, per_page=5)
    coordinates = any("coordinator" in m.roles for m in actor.memberships)
    return render_template(
        "main/index.html",
        structures=structures_of(actor),
        recent_dossiers=recent,
        more_dossiers=bool(more),
        can_create_dossier=coordinates,
        first_connection=actor.guide_seen_at is None,
    )


@bp.get("/healthz")
def healthz():
    if db.ping():
        return jsonify(status="ok", database="ok")
    return jsonify(status="error", database="unreachable"), 503


@bp.get("/mentions-legales")
def legal():
    return render_template("main/legal.html")


@bp.get("/confidentialite")
def privacy():
    return render_template("main/privacy.html")


@bp.get("/bienvenue")
@login_required
def guide():
    """The first-connection guide: the main screens in a few steps. Opening it once is
    enough to stop the home page from offering it."""
    actor = acting_user()
    if actor.guide_seen_at is None:
        User.objects(id=actor.id).update_one(set__guide_seen_at=utcnow())
    return render_template("main/guide.html")


@bp.get("/aide")
def help_page():
    return render_template("main/help.html")
