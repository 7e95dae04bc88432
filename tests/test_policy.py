"""The access policy, action by action and kind of user by kind of user (app.policy.can)."""

from types import SimpleNamespace

import pytest
from flask_login import AnonymousUserMixin

from app import policy
from app.accounts.services import update_user
from app.errors import Forbidden
from app.structures.services import update_structure

SYSTEM = policy.SYSTEM

# Kinds of actor. Each one has a "home" structure: the structure the structure-level actions
# target, and whose professional member the account-level actions target.
KINDS = (
    "platform_admin",  # no membership
    "admin_of_target",  # structure admin of the target structure
    "admin_of_other",  # structure admin of another structure, looking at the target one
    "coordinator",  # coordinator in the target structure
    "professional",  # professional in the target structure
    "no_membership",  # an active account that belongs to no structure
    "suspended_platform_admin",
    "suspended_admin_of_target",
    "requested_admin_of_target",  # account not yet verified, already given roles
    "admin_of_deactivated",  # structure admin of a deactivated structure, looking at it
    "anonymous",  # flask-login's anonymous user
    "none",  # no user at all
    "system",  # policy.SYSTEM, the actor of operator commands
)

T, F = True, False

# action: (target, {kind: expected}); targets: None (a collection), "structure" (the kind's
# home structure), "member" (a professional member of that structure), "membership" (that
# structure and that member), "self".
MATRIX = {
    "structure.list": (None, "TFFFFFFFFFFFT"),
    "structure.create": (None, "TFFFFFFFFFFFT"),
    "structure.edit": ("structure", "TFFFFFFFFFFFT"),
    "structure.view": ("structure", "TTFTTFFFFFFFT"),
    "structure.manage_members": ("structure", "TTFFFFFFFFFFT"),
    # Another's roles in the structure (one's own: test_nobody_changes_their_own_rights).
    "member.set_roles": ("membership", "TTFFFFFFFFFFT"),
    "user.list": (None, "TFFFFFFFFFFFT"),
    "user.create": (None, "TFFFFFFFFFFFT"),
    "user.edit": ("member", "TFFFFFFFFFFFT"),
    "user.view": ("member", "TTFFFFFFFFFFT"),
    # A structure admin sees a member, not their phone, platform role or other structures.
    "user.view_details": ("member", "TFFFFFFFFFFFT"),
    # Another's name and profession (one's own: test_nobody_changes_their_own_rights).
    "user.set_identity": ("member", "TFFFFFFFFFFFT"),
    "profile.edit": ("self", "TTTTTTFFFTFFT"),
    "token.manage": ("self", "TTTTTTFFFTFFT"),
    "audit.view": (None, "TFFFFFFFFFFFT"),
    "terms.publish": (None, "TFFFFFFFFFFFT"),
    "form.view": (None, "TTTTTTFFFTFFT"),
    # The target is the form's owner structure; a global form (None) is platform admin's.
    "form.manage": ("structure", "TTFFFFFFFFFFT"),
    # Target: the coordinating structure. Coordinators only; platform admins see no dossier.
    "dossier.create": ("structure", "FFFTFFFFFFFFT"),
    # Searching by identity (which dossiers it shows is dossier.find: test_dossiers_access).
    "dossier.search": (None, "TTTTTTFFFTFFT"),
    "habilitation.manage": (None, "TFFFFFFFFFFFT"),
    "directory.search": (None, "TTTTTTFFFTFFT"),
    "pathway.view": (None, "TTTTTTFFFTFFT"),
    # Target: the owner structure of the pathway.
    "pathway.manage": ("structure", "TTFFFFFFFFFFT"),
    "directory.add": (None, "TTTTFFFFFFFFT"),
    "directory.import": (None, "TFFFFFFFFFFFT"),
    # One's own notifications and preferences; the e-mails that failed: platform admins.
    "notification.list": (None, "TTTTTTFFFTFFT"),
    "notification.preferences": ("self", "TTTTTTFFFTFFT"),
    "mail.manage": (None, "TFFFFFFFFFFFT"),
    # Anyone with an active account starts a conversation and invites a colleague.
    "conversation.create": (None, "TTTTTTFFFTFFT"),
    "invitation.create": (None, "TTTTTTFFFTFFT"),
    # A structure's MSSanté mailbox: its admins set it; its admins and coordinators read its log.
    "mss.configure": ("structure", "TTFFFFFFFFFFT"),
    "mss.log": ("structure", "TTFTFFFFFFFFT"),
}

# Actions on one dossier or entry: their table, by kind of user of a dossier, is in
# test_dossiers_access.py, which checks that it covers exactly these.
DOSSIER_ACTIONS = {
    "dossier.view",
    "dossier.edit",
    "dossier.manage_members",
    "dossier.withdraw_consent",
    "dossier.request_join",
    "dossier.find",
    "entry.create",
    "entry.view",
    "entry.edit",
    "entry.delete",
}


# Running pathways: their answers, by kind of user of a dossier, are checked in
# test_pathway_instances.py.
PATHWAY_RUN_ACTIONS = {
    "pathway.start",
    "pathway.start_by_event",
    "pathway.event",
    "pathway.retry",
    "pathway.failures",
    "task.view",
    "task.complete",
    "task.claim",
    "task.release",
    "task.assign",
    "task.lost",  # its rows: test_who_is_told_a_task_is_taken below
}


# One notification (its owner only): checked in test_notifications_api.py.
NOTIFICATION_ACTIONS = {"notification.view"}
# One discussion (a dossier's thread, a conversation): the table of who reads and writes
# which is tests/test_discussions_access.py.
DISCUSSION_ACTIONS = {"discussion.view", "discussion.post"}
# One invitation (its inviter only): tests/test_invitations.py.
INVITATION_ACTIONS = {"invitation.manage"}
# Sending by MSSanté from a dossier (a member of the sending structure who acts on the
# dossier): tests/test_mss.py.
MSS_ACTIONS = {"mss.send"}
# Webhook subscriptions (target: a subscription): tests/test_webhooks.py.
WEBHOOK_ACTIONS = {"webhook.list", "webhook.list_all", "webhook.view", "webhook.manage"}
# A form filled on a dossier (target: (dossier, form)): test_what_may_be_used_on_a_dossier
# below, and tests/test_pathway_purpose.py end to end.
FORM_FILL_ACTIONS = {"form.fill"}


def test_matrix_covers_every_action_and_kind():
    tables = DOSSIER_ACTIONS | PATHWAY_RUN_ACTIONS | NOTIFICATION_ACTIONS | DISCUSSION_ACTIONS
    tables |= INVITATION_ACTIONS | MSS_ACTIONS | WEBHOOK_ACTIONS | FORM_FILL_ACTIONS
    assert set(MATRIX) | tables == set(policy.ACTIONS)
    assert not set(MATRIX) & DOSSIER_ACTIONS
    assert all(len(flags) == len(KINDS) for _, flags in MATRIX.values())


@pytest.fixture
def world(make_structure, make_user, structure, other_structure):
    """Two active structures, one deactivated, and an actor of every kind."""
    closed = make_structure(key="fermee", name="Structure fermée")
    # Members first, roles given while the structure is active; then it is deactivated.
    users = {
        "platform_admin": make_user(platform_admin=True),
        "admin_of_target": make_user(structure, roles=["structure_admin"]),
        "admin_of_other": make_user(other_structure, roles=["structure_admin"]),
        "coordinator": make_user(structure, roles=["coordinator"]),
        "professional": make_user(structure, roles=["professional"]),
        "no_membership": make_user(),
        "suspended_platform_admin": make_user(platform_admin=True, status="suspended"),
        "suspended_admin_of_target": make_user(
            structure, roles=["structure_admin"], status="suspended"
        ),
        "requested_admin_of_target": make_user(
            structure, roles=["structure_admin"], status="requested"
        ),
        "admin_of_deactivated": make_user(closed, roles=["structure_admin"]),
        "anonymous": AnonymousUserMixin(),
        "none": None,
        "system": SYSTEM,
    }
    members = {
        structure.key: make_user(structure, roles=["professional"]),
        closed.key: make_user(closed, roles=["professional"]),
    }
    update_structure(SYSTEM, closed, {"active": False})
    home = dict.fromkeys(KINDS, structure)
    home["admin_of_deactivated"] = closed
    return SimpleNamespace(
        users=users, home=home, members=members, structure=structure, closed=closed
    )


def resolve(world, kind, target):
    actor = world.users[kind]
    if target == "structure":
        return world.home[kind]
    if target == "member":
        return world.members[world.home[kind].key]
    if target == "membership":
        return world.home[kind], world.members[world.home[kind].key]
    if target == "self":
        # SYSTEM, None and the anonymous user have no account: they act on someone's.
        return actor if hasattr(actor, "memberships") else world.members[world.structure.key]
    return None


@pytest.mark.parametrize("action", sorted(MATRIX))
def test_can(world, action):
    """One action for every kind of actor; the whole row is compared, so a failure shows all."""
    target, flags = MATRIX[action]
    expected = {kind: flag == "T" for kind, flag in zip(KINDS, flags, strict=True)}
    answers = {
        kind: policy.can(world.users[kind], action, resolve(world, kind, target)) for kind in KINDS
    }
    assert all(type(answer) is bool for answer in answers.values()), answers
    assert answers == expected
    # `require` agrees with `can`: silent when allowed, Forbidden otherwise.
    for kind in KINDS:
        actor, resolved = world.users[kind], resolve(world, kind, target)
        if expected[kind]:
            assert policy.require(actor, action, resolved) is None
        else:
            with pytest.raises(Forbidden):
                policy.require(actor, action, resolved)


@pytest.mark.parametrize(
    ("action", "target"),
    [("user.set_identity", "self"), ("member.set_roles", "own_membership")],
)
def test_nobody_changes_their_own_rights(world, action, target):
    """Name, profession and structure roles: never one's own, whatever one's role (issue 17).
    SYSTEM (the operator's commands) has no account: it acts on someone's."""
    answers = {}
    for kind in KINDS:
        own = resolve(world, kind, "self")
        resolved = (world.home[kind], own) if target == "own_membership" else own
        answers[kind] = policy.can(world.users[kind], action, resolved)
    assert answers == {kind: kind == "system" for kind in KINDS}


@pytest.mark.parametrize("action", ["structure.delete", "", "STRUCTURE.LIST", "user.view "])
def test_unknown_action_raises_key_error(platform_admin, action):
    # Even the actors that are always (SYSTEM) or never (None) allowed: a typo must not pass.
    for actor in (SYSTEM, None, AnonymousUserMixin(), platform_admin):
        with pytest.raises(KeyError, match="unknown policy action"):
            policy.can(actor, action)
        with pytest.raises(KeyError):
            policy.require(actor, action)


def test_actions_are_the_rules():
    assert frozenset(policy.RULES) == policy.ACTIONS
    assert isinstance(policy.ACTIONS, frozenset)


# --- user.view in detail ---------------------------------------------------------------------


@pytest.fixture
def people(make_user, structure, other_structure):
    return SimpleNamespace(
        admin=make_user(structure, roles=["structure_admin"]),
        member=make_user(structure, roles=["professional"]),
        coordinator=make_user(structure, roles=["coordinator", "professional"]),
        outsider=make_user(other_structure, roles=["professional"]),
        loner=make_user(),
        platform_admin=make_user(platform_admin=True),
    )


@pytest.mark.parametrize(
    ("actor", "target", "expected"),
    [
        ("member", "member", True),  # oneself
        ("loner", "loner", True),
        ("outsider", "outsider", True),
        ("admin", "admin", True),
        ("admin", "member", True),  # a member of the structure they administer
        ("admin", "coordinator", True),
        ("admin", "outsider", False),  # a member of another structure
        ("admin", "loner", False),  # an account without structure
        ("admin", "platform_admin", False),
        ("member", "admin", False),  # a colleague is not enough
        ("member", "coordinator", False),
        ("coordinator", "member", False),  # coordinating is not administering
        ("outsider", "member", False),
        ("loner", "member", False),
        ("platform_admin", "member", True),
        ("platform_admin", "loner", True),
    ],
)
def test_user_view(people, actor, target, expected):
    assert policy.can(getattr(people, actor), "user.view", getattr(people, target)) is expected


def test_user_view_admin_elsewhere_coordinator_here(make_user, structure, other_structure):
    """Administering one structure gives nothing over the members of another one."""
    actor = make_user(structure, roles=["coordinator"])
    update_user(
        SYSTEM,
        actor,
        {
            "memberships": [
                {"structure": structure.key, "roles": ["coordinator"]},
                {"structure": other_structure.key, "roles": ["structure_admin"]},
            ]
        },
    )
    member_here = make_user(structure)
    member_there = make_user(other_structure)
    assert policy.can(actor, "user.view", member_here) is False
    assert policy.can(actor, "user.view", member_there) is True
    assert policy.can(actor, "structure.manage_members", structure) is False
    assert policy.can(actor, "structure.manage_members", other_structure) is True


def test_user_view_ends_when_admin_is_suspended(people):
    assert policy.can(people.admin, "user.view", people.member) is True
    update_user(SYSTEM, people.admin, {"status": "suspended"})
    assert policy.can(people.admin, "user.view", people.member) is False
    assert policy.can(people.admin, "user.view", people.admin) is False


def test_user_view_ends_when_structure_is_deactivated(people, structure):
    """A deactivated structure's administrators lose their roles, over accounts too."""
    update_structure(SYSTEM, structure, {"active": False})
    assert policy.can(people.admin, "structure.manage_members", structure) is False
    assert policy.can(people.admin, "user.view", people.member) is False
    assert policy.can(people.admin, "user.view", people.admin) is True  # still oneself
    update_structure(SYSTEM, structure, {"active": True})
    assert policy.can(people.admin, "user.view", people.member) is True


def test_profile_and_tokens_are_ones_own(people):
    for action in ("profile.edit", "token.manage"):
        assert policy.can(people.member, action, people.member) is True
        assert policy.can(people.admin, action, people.member) is False
        # Not even a platform administrator manages someone else's tokens or profile.
        assert policy.can(people.platform_admin, action, people.member) is False


@pytest.mark.parametrize("actor", ["admin", "member", "loner", "platform_admin"])
def test_user_view_without_target_answers_instead_of_crashing(people, actor):
    assert policy.can(getattr(people, actor), "user.view", None) is (actor == "platform_admin")


def test_everyone_sees_their_own_details(people):
    for actor in ("admin", "member"):
        user = getattr(people, actor)
        assert policy.can(user, "user.view_details", user) is True


def test_only_platform_admins_manage_global_forms(people):
    assert policy.can(people.platform_admin, "form.manage", None) is True
    assert policy.can(people.admin, "form.manage", None) is False


# --- what may be used on a dossier: purpose and owner of a pathway or a form (issue 17) -------

# Definitions: a patient one of the whole platform, of the dossier's coordinating structure,
# of another structure; a platform process (or internal form) of the platform.
DEFINITIONS = ("platform_wide", "own_structure", "other_structure", "platform_process")
# Actors: the coordinator of the dossier's structure, a social worker of its circle, a
# platform admin, the system. Each row: the answers for the definitions above, in order.
USED_ON_DOSSIER = {
    "pathway.start": {
        "coordinator": "TTFF", "circle_member": "FFFF", "platform_admin": "FFFF",
        "system": "TTTT",
    },
    "pathway.start_by_event": {
        "coordinator": "TTFF", "circle_member": "TTFF", "platform_admin": "FFFF",
        "system": "TTTT",
    },
    "form.fill": {
        "coordinator": "TTFF", "circle_member": "TTFF", "platform_admin": "FFFF",
        "system": "TTTT",
    },
}  # fmt: skip


@pytest.fixture
def on_a_dossier(make_user, structure, other_structure):
    from dossier_helpers import new_dossier

    from app.dossiers import circle

    coordinator = make_user(structure, roles=["coordinator"], profession="coordinateur")
    dossier = new_dossier(coordinator, structure)
    member = make_user(other_structure, profession="assistant_social")
    circle.add_member(
        coordinator, dossier, {"user": str(member.id), "care_role": "assistant_social"}
    )
    dossier.reload()
    owners = {"platform_wide": None, "own_structure": structure.id,
              "other_structure": other_structure.id, "platform_process": None}  # fmt: skip
    definitions = {
        name: SimpleNamespace(
            owner=owner, category="administratif", name=name, title=name,
            purpose="platform" if name == "platform_process" else "patient",
        )
        for name, owner in owners.items()
    }  # fmt: skip
    actors = {"coordinator": coordinator, "circle_member": member,
              "platform_admin": make_user(platform_admin=True), "system": SYSTEM}  # fmt: skip
    return dossier, definitions, actors


@pytest.mark.parametrize("action", sorted(USED_ON_DOSSIER))
def test_what_may_be_used_on_a_dossier(on_a_dossier, action):
    dossier, definitions, actors = on_a_dossier
    for kind, row in USED_ON_DOSSIER[action].items():
        expected = {name: flag == "T" for name, flag in zip(DEFINITIONS, row, strict=True)}
        answers = {
            name: policy.can(actors[kind], action, (dossier, definitions[name]))
            for name in DEFINITIONS
        }
        assert answers == expected, kind


def test_a_platform_step_on_a_dossier_is_no_platform_admins_to_take(on_a_dossier):
    """A platform process's step (platform=1) is the platform admins' only off a dossier: on
    one (left by an earlier start there) it would show them a patient."""
    dossier, _, actors = on_a_dossier
    admin = actors["platform_admin"]
    off = SimpleNamespace(platform=1, dossier=None, assignee=None, candidates_structure=None)
    on = SimpleNamespace(platform=1, dossier=dossier.id, assignee=None, candidates_structure=None)
    assert policy.can(admin, "task.view", (None, off)) is True
    assert policy.can(admin, "task.claim", (None, off)) is True
    assert policy.can(admin, "task.view", (dossier, on)) is False
    assert policy.can(admin, "task.claim", (dossier, on)) is False


# --- a pathway step and the data category of its form ----------------------------------------


@pytest.mark.parametrize(
    ("doer", "form", "complete", "claim"),
    [
        # The assignee: a coordinator writes medical data, only reads care data ("soins").
        ("assignee", "evaluation_multidimensionnelle", True, False),
        ("assignee", "conciliation_medicamenteuse", False, False),
        # A candidate nurse: writes care data, only reads medical data.
        ("candidate", "conciliation_medicamenteuse", True, True),
        ("candidate", "evaluation_multidimensionnelle", False, False),
        ("candidate", "formulaire_disparu", False, False),
    ],
)
def test_a_step_is_completed_only_by_who_may_write_its_form(
    app, make_user, structure, coordinator, doer, form, complete, claim
):
    """task.complete and task.claim also need the habilitation to write the category of the
    task's form: the submission becomes an entry of the dossier (issue 18)."""
    from pathlib import Path

    from bson import ObjectId
    from dossier_helpers import new_dossier

    from app.formkit.services import sync_directory
    from app.pathways.models import Task

    sync_directory(Path(app.root_path).parent / "forms")
    dossier = new_dossier(coordinator, structure)
    nurse = make_user(structure, profession="60")
    task = Task(
        instance=ObjectId(), dossier=dossier.id, engine_id="e", spec="s", title="t",
        form_key=form, assignee=coordinator.id if doer == "assignee" else None,
        candidates_structure=structure.id, candidate_professions=["60"],
    )  # fmt: skip
    actor = coordinator if doer == "assignee" else nurse
    assert policy.can(actor, "task.complete", (dossier, task)) is complete
    assert policy.can(actor, "task.claim", (dossier, task)) is claim


# --- a candidate who lost the race for a task (issue 19) ---------------------------------------

# Whether `who` is told (409) that the task is taken or done, by the task's state.
LOST = {
    # state: (free, held by me, held by another, done by another, cancelled)
    "candidate": "FFTTF",  # the profession it was offered to, in the offering structure
    "other_profession": "FFFFF",
    "other_structure": "FFFFF",
    "excluded_candidate": "FFFFF",  # refused by the patient
    "suspended_structure": "FFFFF",  # the offering structure was deactivated
    "no_consent": "FFFFF",  # consent withdrawn: nobody sees the task any more
}
STATES = ("free", "mine", "held", "done", "cancelled")


@pytest.mark.parametrize("who", sorted(LOST))
def test_who_is_told_a_task_is_taken(who, make_user, make_structure, structure, coordinator):
    from bson import ObjectId
    from dossier_helpers import new_dossier

    from app.dossiers import circle

    dossier = new_dossier(coordinator, structure)
    offering = make_structure() if who == "suspended_structure" else structure
    actor = make_user(offering, profession="10" if who != "other_profession" else "60")
    if who == "other_structure":
        actor = make_user(make_structure(), profession="10")
    if who == "excluded_candidate":
        circle.exclude(coordinator, dossier, {"user": str(actor.id)})
        dossier.reload()
    if who == "suspended_structure":
        update_structure(SYSTEM, offering, {"active": False})
    if who == "no_consent":
        dossier.status = "consent_withdrawn"  # as withdraw_consent leaves it
    other = ObjectId()
    tasks = {
        "free": ("open", None), "mine": ("open", actor.id), "held": ("open", other),
        "done": ("completed", other), "cancelled": ("cancelled", other),
    }  # fmt: skip
    answers = ""
    for state in STATES:
        status, assignee = tasks[state]
        task = SimpleNamespace(
            platform=0,
            dossier=dossier.id,
            status=status,
            assignee=assignee,
            candidates_structure=offering.id,
            candidate_professions=["10"],
        )
        answers += "T" if policy.can(actor, "task.lost", (dossier, task)) else "F"
    assert answers == LOST[who]


def test_a_platform_admin_is_told_a_platform_step_is_taken(make_user):
    admin, other = make_user(platform_admin=True), make_user(platform_admin=True)
    held = SimpleNamespace(platform=1, dossier=None, status="open", assignee=other.id,
                           candidates_structure=None)  # fmt: skip
    assert policy.can(admin, "task.lost", (None, held)) is True
    assert policy.can(make_user(), "task.lost", (None, held)) is False
