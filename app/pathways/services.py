"""Pathway definitions: deploy a BPMN file after checking all of it, keep every version."""

import hashlib
import json

from flask import current_app, has_app_context

from app import audit, db, policy
from app.dossiers.habilitations import profession_may_write
from app.engine import runtime
from app.engine.parser import parse_bpmn, stored_text
from app.engine.runtime import connector_names
from app.errors import NotFound, ServiceError
from app.formkit.models import Form
from app.pathways.models import Pathway, PathwayVersion
from app.reference import CARE_ROLE_PROFESSIONS, CARE_ROLES, DATA_CATEGORIES, PLATFORM_LANES
from app.structures.services import owner_by_key, owner_of
from app.structures.services import owner_choices as structure_owner_choices

# French names of the service-task operators; a pathway may name any registered connector
# (plugins register theirs with app.engine.runtime.register_connector, issue 8).
OPERATOR_LABELS = {"notify": "Notifier", "send_email": "Envoyer un e-mail"}


def operators():
    """The operators a pathway may call now: {name: French label}."""
    return {name: OPERATOR_LABELS.get(name, name) for name in sorted(connector_names())}


def timer_min_repeat():
    """TIMER_MIN_REPEAT of the application at hand (seconds): what deployment requires of
    the timers, and the engine of the values it arms them with."""
    return current_app.config["TIMER_MIN_REPEAT"] if has_app_context() else 0


runtime.timer_min_repeat = timer_min_repeat


class InvalidBpmn(ServiceError):
    """Deployment refused: every problem found, each with its element and line."""

    status = 422
    code = "invalid_bpmn"

    def __init__(self, problems):
        count = len(problems)
        message = (
            "Le parcours contient un problème."
            if count == 1
            else f"Le parcours contient {count} problèmes."
        )
        listed = [{"element": p.element_id, "line": p.line, "message": p.message} for p in problems]
        super().__init__(message, fields={"/bpmn": problems[0].message}, extra={"problems": listed})
        self.problems = listed


def usable_forms(owner):
    """(the data category of each published form a pathway of `owner` may name, by key: the
    platform's and its own structure's; the keys of those reserved to platform processes)."""
    found = Form.objects(latest_version__gt=0).only("key", "owner", "purpose", "category")
    usable = {
        f.key: f.category for f in found if f.owner is None or (owner and f.owner == owner.id)
    }
    return usable, {f.key for f in found if f.purpose == "platform"}


def lane_check(categories):
    """A function (lane, form key) -> why the lane's care role may not fill the form (None if
    it may): one of the role's professions at least must be habilitated to write the form's
    data category, since the submission becomes an entry of the dossier. The platform's own
    lanes fill no dossier."""

    def check(lane, form_key):
        category = categories.get(form_key)
        if lane not in CARE_ROLES or category is None:
            return None
        if any(profession_may_write(p, category) for p in CARE_ROLE_PROFESSIONS.get(lane, [])):
            return None
        return (
            f"Le rôle « {CARE_ROLES[lane]} » de ce couloir ne peut pas écrire les données "
            f"« {DATA_CATEGORIES.get(category, category)} » du formulaire « {form_key} » : "
            "aucune de ses professions n'y est habilitée. Placez la tâche dans le couloir "
            "d'un rôle habilité."
        )

    return check


def deploy(actor, data, structure=None, trusted=False):
    """Check and deploy a BPMN document; returns (pathway, version, created).

    An unchanged document deploys nothing (created False). `trusted` is for the files shipped
    in workflows/: only they may hold script tasks. The document says its purpose (a
    patient pathway, or with `purpose` = platform a process of the platform itself, which
    only the platform owns and never runs on a dossier); the pathway takes its latest
    version's. Everything is checked, the text decoded, before anything is written."""
    owner = owner_by_key(structure)
    policy.require(actor, "pathway.manage", owner)
    categories, platform_forms = usable_forms(owner)
    parsed = parse_bpmn(
        data,
        forms=set(categories),
        roles=set(CARE_ROLES),
        operators=set(operators()),
        allow_scripts=trusted,
        min_repeat=timer_min_repeat(),
        platform_roles=set(PLATFORM_LANES) if owner is None else (),
        platform_forms=platform_forms,
        platform_allowed=owner is None,
        lane_check=lane_check(categories),
        max_cardinality=current_app.config["ENGINE_MAX_CARDINALITY"],
    )
    text, problems = stored_text(data) if not parsed.problems else (None, parsed.problems)
    if problems:
        raise InvalidBpmn(problems)
    pathway = Pathway.objects(key=parsed.process_id).first()
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if pathway is not None:
        policy.require(actor, "pathway.manage", owner_of(pathway))
        latest = PathwayVersion.objects(pathway=pathway.key, version=pathway.latest_version).first()
        if latest is not None and latest.digest == digest:
            return pathway, latest, False
    else:
        pathway = Pathway(
            key=parsed.process_id,
            name=parsed.name,
            owner=owner.id if owner else None,
            purpose=parsed.purpose,
            created_by=audit.actor_id(actor),
        )
        pathway.save()
    # The number is taken atomically: two deployments at once get two versions.
    number = db.increment(
        Pathway._get_collection(), pathway.id, "latest_version",
        also={"name": parsed.name, "start_messages": parsed.messages["start"],
              "purpose": parsed.purpose},
    )  # fmt: skip
    version = PathwayVersion(
        pathway=pathway.key,
        version=number,
        name=parsed.name,
        bpmn=text,
        digest=digest,
        summary_json=json.dumps(parsed.summary, ensure_ascii=False),
        trusted=int(trusted),
        author=audit.actor_id(actor),
    )
    version.save(force_insert=True)
    pathway.reload()
    audit.record(actor, "pathway.deploy", pathway, version=version.version, digest=digest)
    return pathway, version, True


def list_pathways(actor):
    """The pathways with a deployed version (one whose first deployment failed has none)."""
    policy.require(actor, "pathway.view")
    return Pathway.objects(latest_version__gt=0).order_by("name")


def get_version(actor, key, number=None):
    pathway = Pathway.objects(key=key).first()
    if pathway is None:
        raise NotFound("Ce parcours n'existe pas.")
    policy.require(actor, "pathway.view", pathway)
    number = pathway.latest_version if number is None else number
    version = PathwayVersion.objects(pathway=key, version=number).first()
    if version is None:
        raise NotFound("Cette version du parcours n'existe pas.")
    return pathway, version


def can_manage(actor, pathway=None):
    return policy.can(actor, "pathway.manage", owner_of(pathway) if pathway else None)


def owner_choices(actor):
    return structure_owner_choices(actor, "pathway.manage")


# What a platform process's task page shows of its subject ("account_request:<id>"…): the
# feature that owns the subject registers, by the prefix, a function of the id that returns
# (template, context) or None.
SUBJECT_PANELS = {}


def subject_panel(subject):
    prefix, _, subject_id = (subject or "").partition(":")
    panel = SUBJECT_PANELS.get(prefix)
    return panel(subject_id) if panel else None
