"""Running pathways in the browser: my tasks, a task page with its form, a dossier's
pathways (start one), an instance with its steps and diagram, the failed steps to retry."""

from flask import Blueprint, flash, redirect, render_template, request, url_for

from app import policy
from app.accounts.models import User
from app.clock import utcnow
from app.dossiers import services as dossier_services
from app.dossiers.listing import identity_summary
from app.errors import Conflict
from app.formkit import services as forms
from app.formkit.coerce import coerce
from app.formkit.render import render_form
from app.forms import acting_user, signed_in_only, status_of
from app.pathways import instances, migration, services, steps
from app.pathways.models import PathwayInstance
from app.reference import CARE_ROLES
from app.validation import InvalidInput

bp = Blueprint("runs", __name__)
# What a page answers with a message; a refused access (403, 404) stays an error page.
REFUSALS = (Conflict, InvalidInput, steps.PathwayFailed)

signed_in_only(bp)

STATUS_LABELS = {
    "running": "En cours",
    "waiting": "En attente d'un événement",
    "completed": "Terminé",
    "error": "En erreur",
    "suspended": "Suspendu (consentement retiré)",
}


ELEMENTS = {
    "UserTask": "étape",
    "ServiceTask": "service",
    "ExclusiveGateway": "décision",
    "InclusiveGateway": "décision",
    "ParallelGateway": "branches parallèles",
    "EventBasedGateway": "attente d'un événement",
    "StartEvent": "début",
    "EndEvent": "fin",
    "IntermediateCatchEvent": "événement attendu",
    "IntermediateThrowEvent": "événement émis",
    "BoundaryEvent": "minuterie ou événement",
    "SubWorkflowTask": "sous-processus",
    "CallActivity": "sous-processus",
    "ScriptTask": "calcul",
}
KINDS = {
    "claim": "Tâche prise : {name}",
    "release": "Tâche rendue : {name}",
    "assign": "Tâche confiée à {detail} : {name}",
    "error": "Erreur : {detail}",
    "retry": "Relance de l'étape en erreur",
    "migrate": "Passage à la version {detail}",
}


def step_label(step):
    """A history row in French: the element and what it is, or what someone did."""
    if step.kind != "element":
        return KINDS[step.kind].format(name=step.name or step.spec, detail=step.detail or "")
    kind = ELEMENTS.get(step.element_type or "", "")
    name = step.name or step.spec
    return f"{name} ({kind})" if kind else name


@bp.context_processor
def _helpers():
    return {"step_label": step_label, "now": utcnow()}


def _task_page(actor, dossier, task, fields, status=200, error=None):
    _, version = forms.get_version(actor, task.form_key)
    may_assign = policy.can(actor, "task.assign", (dossier, task))
    subject = None
    if dossier is None:  # a platform process: what it is about
        instance = PathwayInstance.objects(id=task.instance).only("subject").first()
        subject = services.subject_panel(instance.subject if instance else None)
    return render_template(
        "pathways/task.html",
        task=task,
        subject=subject,
        dossier=dossier,
        patient=identity_summary(dossier) if dossier else None,
        sees_dossier=dossier is not None and policy.can(actor, "dossier.view", dossier),
        version=version,
        fields=fields,
        roles=CARE_ROLES,
        assignee=User.objects(id=task.assignee).only("name").first() if task.assignee else None,
        may_complete=task.status == "open" and policy.can(actor, "task.complete", (dossier, task)),
        may_claim=task.status == "open" and policy.can(actor, "task.claim", (dossier, task)),
        may_release=task.status == "open" and policy.can(actor, "task.release", (dossier, task)),
        people=instances.assignable(dossier, task)
        if may_assign and dossier and task.status == "open"
        else [],
        unhabilitated=instances.unhabilitated(actor, dossier, task)
        if task.status == "open" and task.assignee == actor.id
        else None,
        error_count=len(getattr(error, "fields", {})) or (1 if error else 0),
        error_message=getattr(error, "message", None),
    ), status


@bp.route("/taches/<task_id>", methods=["GET", "POST"])
def task(task_id):
    actor = acting_user()
    dossier, task = instances.get_task(actor, task_id)
    _, version = forms.get_version(actor, task.form_key)
    if request.method == "GET":
        return _task_page(actor, dossier, task, render_form(version.schema, version.ui_schema))
    data = coerce(version.schema, request.form)
    try:
        instances.complete_task(actor, task_id, data)
    except REFUSALS as error:
        errors = {p.removeprefix("/data"): m for p, m in getattr(error, "fields", {}).items()}
        fields = render_form(version.schema, version.ui_schema, values=data, errors=errors)
        task.reload()
        return _task_page(actor, dossier, task, fields, status_of(error), error)
    flash(f"« {task.title} » est fait : le parcours continue.", "success")
    if dossier and policy.can(actor, "dossier.view", dossier_services.find(dossier.id)):
        return redirect(url_for("dossiers.show", dossier_id=dossier.id))
    return redirect(url_for("inbox.index"))


def _task_action(task_id, action, done, then=None, refused=None):
    """Run `action`; back to the task page (or `then`, or `refused` after a refusal) with
    what happened."""
    try:
        action()
    except REFUSALS as error:
        flash(error.message, "danger")
        then = refused
    else:
        flash(done, "success")
    return redirect(then or url_for("runs.task", task_id=task_id))


@bp.post("/taches/<task_id>/prendre")
def claim(task_id):
    actor = acting_user()
    return _task_action(
        task_id,
        lambda: instances.claim_task(actor, task_id),
        "La tâche est à vous.",
        # Taken by someone else meanwhile: its page is no longer theirs, the list is.
        refused=url_for("inbox.index", scope="available"),
    )


@bp.post("/taches/<task_id>/rendre")
def release(task_id):
    actor = acting_user()
    return _task_action(
        task_id,
        lambda: instances.release_task(actor, task_id),
        "La tâche est rendue : elle est de nouveau à prendre.",
        then=url_for("inbox.index"),
    )


@bp.post("/taches/<task_id>/confier")
def assign(task_id):
    actor = acting_user()
    user = request.form.get("user", "")
    return _task_action(
        task_id, lambda: instances.assign_task(actor, task_id, user), "La tâche est confiée."
    )


@bp.route("/dossiers/<dossier_id>/parcours", methods=["GET", "POST"])
def dossier_pathways(dossier_id):
    actor = acting_user()
    dossier = dossier_services.get_dossier(actor, dossier_id, record=False)
    error = None
    if request.method == "POST":
        try:
            instance = instances.start_pathway(actor, dossier, request.form.get("pathway", ""))
        except REFUSALS as failure:
            error = failure
        else:
            flash(f"Le parcours « {instance.name} » est démarré.", "success")
            return redirect(url_for("runs.instance", instance_id=instance.id))
    found, tasks = instances.of_dossier(actor, dossier)
    return render_template(
        "pathways/dossier.html",
        dossier=dossier,
        instances=found,
        tasks=tasks,
        labels=STATUS_LABELS,
        pathways=instances.startable(actor, dossier),
        error_message=getattr(error, "message", None),
    ), (status_of(error) if error else 200)


@bp.get("/parcours/instances/<instance_id>")
def instance(instance_id):
    actor = acting_user()
    found, tasks = instances.get_instance(actor, instance_id)
    dossier = steps.dossier_of(found)
    history = steps.history(found)
    open_specs = sorted({t.spec for t in tasks if t.status == "open"})
    passed = sorted({s.spec for s, _ in history if s.kind == "element" and s.spec})
    return render_template(
        "pathways/instance.html",
        instance=found,
        dossier=dossier,
        tasks=tasks,
        history=history,
        labels=STATUS_LABELS,
        completed=[spec for spec in passed if spec not in open_specs],
        current=open_specs,
        failed=[found.error["element"]] if found.error.get("element") else [],
        step_labels={
            **{s.spec: s.name for s, _ in history if s.spec and s.name},
            **{t.spec: t.title for t in tasks},
        },
        may_retry=found.status == "error" and policy.can(actor, "pathway.retry", dossier),
        sees_dossier=dossier is not None and policy.can(actor, "dossier.view", dossier),
    )


@bp.post("/parcours/instances/<instance_id>/relancer")
def retry(instance_id):
    actor = acting_user()
    try:
        instances.retry(actor, instance_id)
    except (steps.PathwayFailed, *REFUSALS) as error:
        flash(f"La relance a échoué : {error.message}", "danger")
    else:
        flash("L'étape a été relancée : le parcours continue.", "success")
    return redirect(url_for("runs.instance", instance_id=instance_id))


@bp.get("/parcours/erreurs")
def failures():
    actor = acting_user()
    failed = instances.in_error(actor)
    return render_template("pathways/failures.html", failed=failed)


@bp.route("/parcours/<key>/migration", methods=["GET", "POST"])
def migration_page(key):
    actor = acting_user()
    if request.method == "POST":
        chosen = request.form.getlist("instance")
        moved, refused = migration.migrate_instances(actor, key, ids=chosen)
        flash(
            f"{len(moved)} parcours passé(s) à la dernière version ; {len(refused)} laissé(s) "
            "sur leur version.",
            "success" if moved else "warning",
        )
        return redirect(url_for("runs.migration_page", key=key))
    pathway, target, checked = migration.plan(actor, key)
    return render_template(
        "pathways/migration.html", pathway=pathway, target=target, checked=checked
    )
