"""Who is told what: the signals of the services turned into notifications.

Each receiver picks the people concerned, keeps those the policy lets see what the notice
links to, and calls `services.notify`. A notice's text names no patient and carries no form or
message content; the task titles and service-task names it quotes come from the pathway's
diagram, not from anyone's data.

Reminders and escalations come from the pathways' `notify` (and `send_email`) service tasks.
Their parameter `to` (or `role`) says whom to tell:
- a care role of the circle (`medecin_traitant`, `infirmier`…): the circle's members with an
  account holding that role;
- `coordination` (or `coordinateur`): the dossier's coordination, that is its referent; only
  when the referent cannot be told (no longer active, no longer sees the dossier), the
  circle's members holding the care role `coordinateur`. Never every coordinator of the
  structure: a notice about one dossier went to 43 of them at each timer (issue 19);
- `assignee`: whoever holds an open task of the pathway;
- `referent`: the dossier's referent;
- `equipe_plateforme`: the platform administrators (platform processes).
Without `to`, or when nobody fits (no such member, an unknown value, an e-mail address: a
pathway never writes to an arbitrary address), the coordination is told; when nobody can
be, the notice is logged and not sent. The notice is an escalation when the parameter `kind`
or `template` says so (`escalade`, `alerte`…) or, without it, when it goes to the
coordination; otherwise it is a reminder.
"""

import functools
import logging

from app import policy, signals
from app.accounts.models import User
from app.clock import today
from app.notifications.mail import path_for
from app.notifications.services import notify
from app.reference import CARE_ROLES, PLATFORM_LANES

log = logging.getLogger(__name__)

NOTICE_OPERATORS = {"notify", "send_email"}
COORDINATION = {"coordination", "coordinateur"}
ASSIGNEE = {"assignee", "assigne", "responsable"}
ESCALATION_WORDS = ("escalad", "escalat", "alert")
REMINDER_WORDS = ("relance", "rappel", "remind")
ACCOUNT_DECISIONS = {
    "verified": "Votre compte est vérifié.",
    "activated": "Votre compte est activé : vous pouvez vous connecter.",
    "refused": "Votre demande de compte n'a pas été acceptée.",
    "suspended": "Votre compte est suspendu.",
    "reactivated": "Votre compte est de nouveau actif.",
}


def receiver(signal):
    """Connect `fn` to `signal`; a failure is logged, never raised: the action that sent the
    signal is done already, and a notice must not turn it into an error page."""

    def connect(fn):
        @functools.wraps(fn)
        def guarded(sender, **extra):
            try:
                fn(sender, **extra)
            except Exception:
                log.exception("notifications: %s failed", fn.__name__)

        signal.connect(guarded, weak=False)
        return fn

    return connect


def _name(actor):
    return getattr(actor, "name", None) or "La plateforme"


def _active(ids):
    ids = [i for i in ids if i is not None]
    # By _id alone: a second field makes the embedded database scan (README, "Queries").
    return [u for u in User.objects(id__in=ids) if u.status == "active"] if ids else []


def _coordinators(structure_id):
    return list(
        User.objects(
            memberships__match={"structure": structure_id, "roles": "coordinator"},
            status="active",
        )
    )


def coordination(dossier, action="dossier.view"):
    """The dossier's coordination, as the policy lets it do `action`: its referent, else the
    circle's members holding the care role `coordinateur` (see the module's docstring)."""
    referent = [p for p in _active([dossier.referent]) if policy.can(p, action, dossier)]
    if referent:
        return referent
    members = _active(_members(dossier, "coordinateur"))
    return [p for p in members if policy.can(p, action, dossier)]


def _platform_admins():
    return list(User.objects(platform_admin=True, status="active"))


def _members(dossier, care_role=None):
    """The ids of the circle's members with an account (holding `care_role`), active today."""
    day = today()
    return [
        m.user
        for m in dossier.members
        if m.user and m.active_on(day) and (care_role is None or m.care_role == care_role)
    ]


def _others(people, actor):
    return [p for p in people if p.id != getattr(actor, "id", None)]


# --- tasks -----------------------------------------------------------------------------------


def task_people(task, dossier):
    """Who must do `task`: its assignee, else its candidates, as the policy sees them."""
    if task.assignee:
        people = _active([task.assignee])
    elif getattr(task, "platform", 0):
        people = _platform_admins()
    elif task.candidates_structure:
        people = list(
            User.objects(
                memberships__structure=task.candidates_structure,
                profession__in=task.candidate_professions or [],
                status="active",
            )
        )
    else:
        people = []
    return [p for p in people if policy.can(p, "task.view", (dossier, task))]


@receiver(signals.task_created)
def task_created(task, dossier, actor=None, **extra):
    people = _others(task_people(task, dossier), actor)  # not whose action made it ready
    if task.assignee:
        kind, text = "task_assigned", f"Nouvelle tâche pour vous : « {task.title} »"
    else:
        kind, text = "task_available", f"Tâche à prendre : « {task.title} »"
    return notify(people, kind, text, path_for("runs.task", task_id=task.id), dossier=dossier,
                  task=task)  # fmt: skip


@receiver(signals.task_assigned)
def task_assigned(actor, dossier, task, **extra):
    people = _others(task_people(task, dossier), actor)
    text = f"{_name(actor)} vous a confié la tâche « {task.title} »"
    return notify(people, "task_assigned", text, path_for("runs.task", task_id=task.id),
                  dossier=dossier, task=task)  # fmt: skip


@receiver(signals.task_offered)
def task_offered(actor, dossier, task, **extra):
    people = _others(task_people(task, dossier), actor)
    text = f"Tâche de nouveau à prendre : « {task.title} »"
    return notify(people, "task_available", text, path_for("runs.task", task_id=task.id),
                  dossier=dossier, task=task)  # fmt: skip


def task_overdue(task, dossier):
    """A task passed its due date (the worker calls this once per task)."""
    if dossier is not None and not dossier.consent_active:
        return []  # its pathway is suspended
    return notify(
        task_people(task, dossier),
        "task_overdue",
        f"Tâche en retard : « {task.title} »",
        path_for("runs.task", task_id=task.id),
        dossier=dossier,
        task=task,
    )


# --- reminders and escalations of the pathways ------------------------------------------------


def notice_people(instance, dossier, target, open_tasks):
    """The accounts the parameter `target` names (see the module's docstring)."""
    if dossier is None:  # a platform process: its team
        return _platform_admins()
    if target in ASSIGNEE:
        ids = [t.assignee for t in open_tasks if t.assignee]
    elif target in COORDINATION:
        people = coordination(dossier)
        if not people:
            log.warning("notify: nobody coordinates dossier %s (pathway %s)", dossier.id,
                        instance.pathway)  # fmt: skip
        return people
    elif target in CARE_ROLES:
        ids = _members(dossier, target)
    elif target == "referent":
        ids = [dossier.referent]
    elif target in PLATFORM_LANES:
        return _platform_admins()
    else:
        log.warning("notify: unknown recipient %r in pathway %s", target, instance.pathway)
        ids = []
    people = [p for p in _active(ids) if policy.can(p, "dossier.view", dossier)]
    if not people:
        return notice_people(instance, dossier, "coordination", open_tasks)
    return people


def notice_kind(params, target):
    said = f"{params.get('kind') or ''} {params.get('template') or ''}".lower()
    if any(word in said for word in ESCALATION_WORDS):
        return "escalation"
    if any(word in said for word in REMINDER_WORDS):
        return "reminder"
    return "escalation" if target in COORDINATION else "reminder"


@receiver(signals.service_called)
def service_called(instance, dossier, call, **extra):
    if call.get("operator") not in NOTICE_OPERATORS:
        return None
    from app.pathways.models import Task

    params = call.get("params") or {}
    target = str(params.get("to") or params.get("role") or "coordination").strip().lower()
    open_tasks = list(Task.objects(instance=instance.id, status="open"))
    people = notice_people(instance, dossier, target, open_tasks)
    kind = notice_kind(params, target)
    what = "Alerte" if kind == "escalation" else "Relance"
    text = f"{what} du parcours « {instance.name} » : {call.get('name') or call.get('element')}"
    mine = {t.assignee: t for t in open_tasks if t.assignee}

    def link(person):  # their own task of the pathway, else the pathway's page
        task = mine.get(person.id)
        if task is not None:
            return path_for("runs.task", task_id=task.id)
        return path_for("runs.instance", instance_id=instance.id)

    return notify(people, kind, text, link, dossier=dossier)


# --- circles of care and consent -------------------------------------------------------------


@receiver(signals.member_added)
def member_added(actor, dossier, member, **extra):
    if not member.user:
        return None
    people = _others(_active([member.user]), actor)
    role = CARE_ROLES.get(member.care_role, member.care_role)
    text = f"{_name(actor)} vous a ajouté(e) au cercle de soins d'une personne ({role})"
    return notify(people, "circle_added", text,
                  path_for("dossiers.show", dossier_id=dossier.id), dossier=dossier)  # fmt: skip


@receiver(signals.join_requested)
def join_requested(actor, dossier, request, **extra):
    """To those who decide for this dossier: its coordination (the referent); the structure's
    coordinators only when nobody of the dossier may decide."""
    people = coordination(dossier, "dossier.manage_members") or [
        p
        for p in _coordinators(dossier.structure)
        if policy.can(p, "dossier.manage_members", dossier)
    ]
    people = _others(people, actor)
    role = CARE_ROLES.get(request.care_role, request.care_role)
    text = f"{_name(actor)} demande à rejoindre un cercle de soins ({role})"
    return notify(people, "join_request", text,
                  path_for("dossiers.circle", dossier_id=dossier.id), dossier=dossier)  # fmt: skip


@receiver(signals.consent_withdrawn)
def consent_withdrawn(actor, dossier, **extra):
    """To the circle's members with an account and the referent, not every coordinator of the
    structure. The members no longer see the dossier: their link goes to their dossiers."""
    ids = dict.fromkeys([*_members(dossier), dossier.referent])  # the referent once
    people = _others(_active(list(ids)), actor)
    text = "Consentement retiré sur un dossier dont vous faites partie : le partage est arrêté"
    shown = path_for("dossiers.show", dossier_id=dossier.id)
    mine = path_for("dossiers.index")

    def link(person):
        return shown if policy.can(person, "dossier.view", dossier) else mine

    return notify(people, "consent_withdrawn", text, link, dossier=dossier)


# --- accounts (issue 7 sends the signal) -------------------------------------------------------


@receiver(signals.account_decided)
def account_decided(actor, user, decision, **extra):
    text = ACCOUNT_DECISIONS.get(decision, "Une décision a été prise sur votre compte.")
    return notify([user], "account", text, path_for("main.index"))
