"""THE access policy: every allow/deny decision of the web and the API is taken here.

`can(user, action, target)` answers True or False; `require` raises Forbidden. Views and API
handlers never decide access themselves; services call `require` before they read or write.
"""

from dataclasses import dataclass

from bson import ObjectId

from app.errors import Forbidden

# The actor of operator commands run on the server (`parcours users create`…).
SYSTEM = object()


@dataclass(frozen=True)
class ExternalSender:
    """Someone outside the platform whose message the platform itself files (an incoming
    MSSanté mail): the platform acts, as SYSTEM does, and the sender is named as the
    author. Only server code makes one, from where a mail arrived; never from a request."""

    id: ObjectId  # stable per address, so that their messages group together
    name: str
    email: str
    profession: str | None = None
    memberships: tuple = ()


def _is_platform_admin(user):
    return bool(getattr(user, "platform_admin", False))


def _is_active_account(user):
    return user is not None and getattr(user, "is_active", False)


def _roles_in(user, structure):
    if structure is None or not structure.active:
        return set()
    return user.roles_in(structure.id)


def _administers(user, structure):
    return "structure_admin" in _roles_in(user, structure)


def _administers_id(user, structure_id):
    return "structure_admin" in user.roles_in(structure_id) and _structure_active(structure_id)


def _structure_admin_of_user(user, target_user):
    """A structure admin sees the accounts of their own active structures' members."""
    if target_user is None:
        return False
    admin_of = {m.structure for m in user.memberships if "structure_admin" in m.roles}
    shared = admin_of & {m.structure for m in target_user.memberships}
    if not shared:
        return False
    from app.structures.models import Structure  # a deactivated structure gives no role

    return Structure.objects(id__in=list(shared), active=True).count() > 0


def _self(user, target):
    return target is not None and target.id == user.id


# --- dossiers ---------------------------------------------------------------------------------
# A dossier's access comes from the circle of care (an active member), or from being a
# coordinator of its coordinating structure. A professional the patient refused has none,
# whatever their role. Once consent is withdrawn only those coordinators keep a read-only view.


def _today():
    from app.clock import today

    return today()


def _structure_active(structure_id):
    from app.structures.services import cached_structure

    structure = cached_structure(structure_id)
    return structure is not None and structure.active


def _professional_ids(user):
    """The directory entries that stand for this account, read once per request."""
    from flask import g

    from app.directory.models import Professional

    cache = g.setdefault("professional_ids", {})
    if user.id not in cache:
        cache[user.id] = set(Professional.objects(user=user.id).scalar("id"))
    return cache[user.id]


professional_ids = _professional_ids


def is_excluded(user, dossier):
    """Whether the patient refused this account, or a directory entry that stands for it
    (refused before the professional had an account)."""
    if any(exclusion.user == user.id for exclusion in dossier.exclusions):
        return True
    refused = {e.professional for e in dossier.exclusions if e.professional is not None}
    return bool(refused) and bool(refused & _professional_ids(user))


_excluded = is_excluded


def _coordinates(user, dossier):
    return "coordinator" in user.roles_in(dossier.structure) and _structure_active(
        dossier.structure
    )


def _in_circle(user, dossier):
    member = dossier.member_for(user.id)
    return member is not None and member.active_on(_today())


def _sees_dossier(user, dossier):
    if _excluded(user, dossier):
        return False
    if _coordinates(user, dossier):
        return True
    return dossier.consent_active and _in_circle(user, dossier)


def _acts_on_dossier(user, dossier):
    """Writes need consent, and a place in the circle or the coordinating team."""
    return (
        dossier.consent_active
        and not _excluded(user, dossier)
        and (_coordinates(user, dossier) or _in_circle(user, dossier))
    )


def _manages_dossier(user, dossier):
    return (
        dossier.consent_active
        and not _excluded(user, dossier)
        and (
            _coordinates(user, dossier)
            or (dossier.referent == user.id and _in_circle(user, dossier))
        )
    )


def _sees_content(user, dossier, item):
    """An entry or timeline item of `dossier`: its author, everyone (public), or the members
    habilitated for its data category (shared). `item` has dossier, author, visibility,
    category and deleted_at."""
    from app.dossiers.habilitations import may_read

    if item.dossier != dossier.id or item.deleted_at is not None:
        return False
    if not _sees_dossier(user, dossier):
        return False
    if item.author == user.id or item.visibility == "public":
        return True
    return item.visibility == "shared" and may_read(user, item.category)


def _writes_category(user, dossier, category):
    from app.dossiers.habilitations import may_write

    return _acts_on_dossier(user, dossier) and may_write(user, category)


def not_used_on(definition, dossier):
    """Why a form or a pathway may not be filled or run on `dossier`: "platform" (one of the
    platform's own processes), "owner" (another structure's), or None: it may (one for
    patients, the whole platform's or the coordinating structure's own)."""
    if getattr(definition, "purpose", "patient") != "patient":
        return "platform"
    if definition.owner is not None and definition.owner != dossier.structure:
        return "owner"
    return None


def _used_on(definition, dossier):
    return definition is not None and dossier is not None and not not_used_on(definition, dossier)


def _fills_form(user, dossier, form):
    return _used_on(form, dossier) and _writes_category(user, dossier, form.category)


def _edits_entry(user, dossier, entry):
    return (
        entry.author == user.id
        and _sees_content(user, dossier, entry)
        and _writes_category(user, dossier, entry.category)
    )


def _removes_entry(user, dossier, entry):
    """Its author, or those who manage the dossier: never an entry one may not see."""
    return _sees_content(user, dossier, entry) and (
        _edits_entry(user, dossier, entry) or _manages_dossier(user, dossier)
    )


def _joins(user, dossier):
    return (
        dossier.consent_active
        and not _excluded(user, dossier)
        and dossier.member_for(user.id) is None
        and not _coordinates(user, dossier)
    )


def _offered_to(user, task):
    """Whether the task is offered to `user`'s profession in their structure (or, a platform
    process's step, to the platform admins), whoever holds it now."""
    if task.platform:  # a platform process's step: never one on a dossier (issue 17)
        return task.dossier is None and _is_platform_admin(user)
    return (
        task.candidates_structure is not None
        and user.profession in (task.candidate_professions or [])
        and bool(user.roles_in(task.candidates_structure))
        and _structure_active(task.candidates_structure)
    )


def _candidate(user, task):
    return task.assignee is None and _offered_to(user, task)


def _lost_task(user, dossier, task):
    """A candidate of a task someone else took or did meanwhile: they lost the race and are
    told so (409), not refused as if it had never been theirs to take (issue 19). Only while
    they could have seen it: consent given, not refused by the patient."""
    if task.status == "open" and task.assignee in (None, user.id):
        return False  # nothing lost: still free, or theirs
    if task.status not in ("open", "completed") or not _offered_to(user, task):
        return False
    if task.platform:
        return dossier is None
    return (
        dossier is not None
        and task.dossier == dossier.id
        and dossier.consent_active
        and not _excluded(user, dossier)
    )


def _sees_task(user, dossier, task):
    """Its assignee and the coordinators, who see the dossier; its candidates, who see the
    task (not the dossier) while the patient's consent holds, to take it. A step of a
    platform process (no dossier) is the platform administrators'."""
    if task.platform and dossier is None:
        return _is_platform_admin(user)
    if dossier is None or task.dossier != dossier.id or _excluded(user, dossier):
        return False
    if _candidate(user, task):
        return dossier.consent_active
    return _sees_dossier(user, dossier) and (
        task.assignee == user.id or _manages_dossier(user, dossier)
    )


def _writes_task_form(user, task):
    """Habilitated to write the data category of the task's form: its submission becomes an
    entry of the dossier."""
    from app.dossiers.habilitations import may_write
    from app.formkit.services import category_of

    return may_write(user, category_of(task.form_key))


def _completes_task(user, dossier, task):
    """Its assignee, who acts on the dossier; or a candidate, who takes it on the way; either
    habilitated to write what its form holds."""
    if not _sees_task(user, dossier, task):
        return False
    if dossier is None:
        return task.assignee in (None, user.id)
    return (
        _candidate(user, task) or (task.assignee == user.id and _acts_on_dossier(user, dossier))
    ) and _writes_task_form(user, task)


def _in_discussion(user, discussion, dossier, write=False):
    """A dossier's thread: those who see the dossier read it, those who act on it (consent
    given) write in it. A conversation: its participants."""
    if discussion.kind == "dossier":
        if dossier is None or discussion.dossier != dossier.id:
            return False
        return _acts_on_dossier(user, dossier) if write else _sees_dossier(user, dossier)
    return user.id in discussion.participants


RULES = {
    # Structures
    "structure.list": lambda user, target: _is_platform_admin(user),
    "structure.create": lambda user, target: _is_platform_admin(user),
    "structure.edit": lambda user, target: _is_platform_admin(user),
    "structure.view": lambda user, target: (
        _is_platform_admin(user) or bool(_roles_in(user, target))
    ),
    "structure.manage_members": lambda user, target: (
        _is_platform_admin(user) or _administers(user, target)
    ),
    # Give, change or take away an account's roles in a structure. Target: (structure, the
    # account); structure None: its memberships in every structure (platform admins). Never
    # one's own: a second admin of the structure or a platform admin does it.
    "member.set_roles": lambda user, target: (
        not _self(user, target[1]) and (_is_platform_admin(user) or _administers(user, target[0]))
    ),
    # Accounts
    "user.list": lambda user, target: _is_platform_admin(user),
    "user.create": lambda user, target: _is_platform_admin(user),
    "user.edit": lambda user, target: _is_platform_admin(user),
    "user.view": lambda user, target: (
        _is_platform_admin(user) or _self(user, target) or _structure_admin_of_user(user, target)
    ),
    # Phone, platform role and every membership: not for a structure admin's eyes.
    "user.view_details": lambda user, target: _is_platform_admin(user) or _self(user, target),
    # An account's verified facts: its name and its profession (habilitations and tasks
    # follow the profession). The platform team changes them, never on its own account.
    "user.set_identity": lambda user, target: (
        _is_platform_admin(user) and target is not None and not _self(user, target)
    ),
    "profile.edit": lambda user, target: _self(user, target),
    "token.manage": lambda user, target: _self(user, target),
    # Forms: anyone signed in reads the library. Target of form.manage: the owner structure
    # of the form, None for a platform-wide form (platform admins only).
    "form.view": lambda user, target: True,
    "form.manage": lambda user, target: _is_platform_admin(user) or _administers(user, target),
    # Audit trail
    "audit.view": lambda user, target: _is_platform_admin(user),
    # The terms of use (CGU): a new version asks everyone again.
    "terms.publish": lambda user, target: _is_platform_admin(user),
    # MSSanté (plugins/mss): a structure's mailbox. Target of mss.send: (structure id, the
    # dossier sent from or None); of the others: the structure.
    "mss.configure": lambda user, target: _is_platform_admin(user) or _administers(user, target),
    "mss.log": lambda user, target: (
        _is_platform_admin(user)
        or bool({"structure_admin", "coordinator"} & _roles_in(user, target))
    ),
    "mss.send": lambda user, target: (
        bool(user.roles_in(target[0]))
        and _structure_active(target[0])
        and (target[1] is None or _acts_on_dossier(user, target[1]))
    ),
    # Dossiers. Target: the coordinating structure (create), the dossier, or a pair
    # (dossier, entry) / (dossier, data category) for the entries.
    "dossier.create": lambda user, target: (
        target is not None and "coordinator" in _roles_in(user, target)
    ),
    "dossier.search": lambda user, target: True,
    # Which dossiers a search (or a duplicate check) shows: those one sees, and those one may
    # ask to join; never one whose consent is withdrawn, nor one that refused the searcher.
    "dossier.find": lambda user, target: _sees_dossier(user, target) or _joins(user, target),
    "dossier.view": lambda user, target: _sees_dossier(user, target),
    "dossier.edit": lambda user, target: _manages_dossier(user, target),
    "dossier.manage_members": lambda user, target: _manages_dossier(user, target),
    "dossier.withdraw_consent": lambda user, target: _acts_on_dossier(user, target),
    "dossier.request_join": lambda user, target: _joins(user, target),
    "entry.create": lambda user, target: _writes_category(user, *target),
    # A form filled on a dossier. Target (dossier, form): entry.create in the form's data
    # category, for a patient form of the platform or of the coordinating structure.
    "form.fill": lambda user, target: _fills_form(user, *target),
    "entry.view": lambda user, target: _sees_content(user, *target),
    "entry.edit": lambda user, target: _edits_entry(user, *target),
    "entry.delete": lambda user, target: _removes_entry(user, *target),
    "habilitation.manage": lambda user, target: _is_platform_admin(user),
    # Pathways: like forms. Target of pathway.manage: the owner structure, None for the
    # platform's own pathways (platform admins only).
    "pathway.view": lambda user, target: True,
    "pathway.manage": lambda user, target: _is_platform_admin(user) or _administers(user, target),
    # Running pathways. pathway.start: target (dossier, pathway), a patient pathway of the
    # platform or of the coordinating structure, started by those who manage the dossier;
    # task.*: target (dossier, task). Completing (or claiming) a step needs the habilitation
    # to write its form's category.
    "pathway.start": lambda user, target: (
        _manages_dossier(user, target[0]) and _used_on(target[1], target[0])
    ),
    # A pathway started by a BPMN message sent to the dossier (pathway.event): the same
    # pathways, for those who may send the message.
    "pathway.start_by_event": lambda user, target: (
        _acts_on_dossier(user, target[0]) and _used_on(target[1], target[0])
    ),
    "task.view": lambda user, target: _sees_task(user, *target),
    "task.complete": lambda user, target: _completes_task(user, *target),
    # A candidate takes a task; its assignee gives it back; the coordination reassigns it.
    "task.claim": lambda user, target: (
        _candidate(user, target[1]) and _completes_task(user, *target)
    ),
    # A candidate told that the task they were offered is taken or done (409, not 403/404).
    "task.lost": lambda user, target: _lost_task(user, *target),
    "task.release": lambda user, target: (
        target[1].assignee == user.id and _completes_task(user, *target)
    ),
    "task.assign": lambda user, target: (
        _sees_task(user, *target) and (target[0] is None or _manages_dossier(user, target[0]))
    ),
    # The list of failed steps: platform admins (all), structure admins (their dossiers').
    "pathway.failures": lambda user, target: (
        _is_platform_admin(user) or any("structure_admin" in m.roles for m in user.memberships)
    ),
    # A BPMN message to the dossier's pathways (e.g. sent by a hospital's software).
    "pathway.event": lambda user, target: _acts_on_dossier(user, target),
    # A failed step run again: platform admins, and the coordinating structure's admins.
    "pathway.retry": lambda user, target: (
        _is_platform_admin(user) or (target is not None and _administers_id(user, target.structure))
    ),
    # Notifications: one's own, never anyone else's (not even a platform admin's eyes);
    # notification.view targets a notification. The e-mail queue's failures: platform admins.
    "notification.list": lambda user, target: True,
    "notification.view": lambda user, target: target is not None and target.user == user.id,
    "notification.preferences": lambda user, target: _self(user, target),
    "mail.manage": lambda user, target: _is_platform_admin(user),
    # Webhooks (plugin `webhooks`). Target: a subscription (saved, or about to be) whose
    # `structure` is the id of the structure it serves. Its structure's admins manage it;
    # platform admins see every one and its log (to help a structure), and change none.
    "webhook.list": lambda user, target: (
        _is_platform_admin(user)
        or any(
            "structure_admin" in m.roles and _structure_active(m.structure)
            for m in user.memberships
        )
    ),
    "webhook.list_all": lambda user, target: _is_platform_admin(user),
    "webhook.view": lambda user, target: (
        _is_platform_admin(user) or (target is not None and _administers_id(user, target.structure))
    ),
    "webhook.manage": lambda user, target: (
        target is not None and _administers_id(user, target.structure)
    ),
    # Discussions. Target: (discussion, its dossier or None).
    "discussion.view": lambda user, target: _in_discussion(user, *target),
    "discussion.post": lambda user, target: _in_discussion(user, *target, write=True),
    "conversation.create": lambda user, target: True,
    # Anyone signed in invites a colleague who has no account ("kit de maillage").
    "invitation.create": lambda user, target: True,
    # One's own invitations only (target: the invitation): cancel it.
    "invitation.manage": lambda user, target: target is not None and target.inviter == user.id,
    # Directory: every professional looks colleagues up; coordinators and structure admins
    # add people without an account (RPPS import: issue 7).
    "directory.search": lambda user, target: True,
    # The national RPPS extract: the platform admins import it.
    "directory.import": lambda user, target: _is_platform_admin(user),
    "directory.add": lambda user, target: (
        _is_platform_admin(user)
        or any(
            {"coordinator", "structure_admin"} & set(m.roles) and _structure_active(m.structure)
            for m in user.memberships
        )
    ),
}

ACTIONS = frozenset(RULES)


def can(user, action, target=None):
    """Whether `user` may do `action` on `target` (a document, or None for a collection)."""
    if action not in RULES:
        raise KeyError(f"unknown policy action: {action}")
    if user is SYSTEM or isinstance(user, ExternalSender):
        return True
    if not _is_active_account(user):
        return False
    return RULES[action](user, target)


def require(user, action, target=None):
    if not can(user, action, target):
        raise Forbidden()
