"""Pathways in the browser: the list with versions, deployment of a BPMN file with every
problem listed, a version's diagram and steps. The modeler's routes are in modeler_views."""

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from app.forms import FORM_ERRORS, acting_user, signed_in_only, status_of
from app.paging import int_arg
from app.pathways import services
from app.structures.services import structures_by_id
from app.uploads import accepts_uploads, uploaded_file

bp = Blueprint("pathways", __name__, url_prefix="/parcours")

signed_in_only(bp)


def _index(status=200, error=None):
    actor = acting_user()
    pathways = list(services.list_pathways(actor))
    return render_template(
        "pathways/index.html",
        pathways=pathways,
        owners=structures_by_id({p.owner for p in pathways if p.owner}),
        choices=services.owner_choices(actor),
        problems=getattr(error, "extra", {}).get("problems", []),
        error_message=getattr(error, "message", None),
    ), status


@bp.get("/")
def index():
    return _index()


@bp.post("/deployer")
@accepts_uploads
def deploy():
    try:
        content, _ = uploaded_file("bpmn", "/bpmn")
        pathway, version, created = services.deploy(
            acting_user(), content, request.form.get("structure") or None
        )
    except FORM_ERRORS as error:
        return _index(status_of(error), error)
    if created:
        flash(f"« {pathway.name} » est déployé en version {version.version}.", "success")
    else:
        flash(f"« {pathway.name} » n'a pas changé : la version {version.version} reste en service.")
    return redirect(url_for("pathways.show", key=pathway.key))


@bp.get("/<key>")
def show(key):
    actor = acting_user()
    pathway, version = services.get_version(actor, key, int_arg("version"))
    return render_template(
        "pathways/show.html",
        pathway=pathway,
        version=version,
        summary=version.summary,
        versions=range(pathway.latest_version, 0, -1),
        operators=services.operators(),
        can_manage=services.can_manage(actor, pathway),
    )


@bp.get("/<key>/bpmn")
def download(key):
    _, version = services.get_version(acting_user(), key, int_arg("version"))
    return Response(
        version.bpmn,
        mimetype="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{key}-v{version.version}.bpmn"'},
    )


# The modeler's routes join this blueprint (imported last: it imports `bp`).
from app.pathways import modeler_views  # noqa: E402, F401
