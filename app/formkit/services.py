"""The form library: create forms, publish immutable versions, validate submissions."""

import hashlib
import json
from pathlib import Path

from flask import g, has_app_context

from app import audit, policy
from app.clock import utcnow
from app.db import ImmutableCache, save_unique
from app.errors import Conflict, NotFound
from app.formkit import designer, schemas
from app.formkit.models import Form, FormVersion
from app.formkit.schema import MAX_SCHEMA_BYTES, check_publishable, validate_data
from app.reference import PURPOSES
from app.structures.services import owner_by_key, owner_of
from app.structures.services import owner_choices as structure_owner_choices
from app.validation import InvalidInput, check

DUPLICATE_KEY = "Un formulaire existe déjà avec cet identifiant."
EMPTY_SCHEMA = {"type": "object", "additionalProperties": False, "properties": {}, "required": []}
DESIGNER_OPERATIONS = {
    "add_field",
    "update_field",
    "remove_field",
    "move_field",
    "set_condition",
    "remove_condition",
}


def _canonical(value):
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _digest(schema, ui_schema, title):
    return hashlib.sha256(_canonical([schema, ui_schema, title]).encode()).hexdigest()


def get_form(actor, key):
    form = Form.objects(key=key).first()
    if form is None:
        raise NotFound("Ce formulaire n'existe pas.")
    policy.require(actor, "form.view", form)
    return form


def category_of(key):
    """The data category of the form `key` (None when there is no such form), read once per
    request: a pathway step's access and routing depend on it."""
    cache = g.setdefault("form_categories", {}) if has_app_context() else {}
    if key not in cache:
        cache[key] = Form.objects(key=key).scalar("category").first()
    return cache[key]


def list_forms(actor):
    policy.require(actor, "form.view")
    return Form.objects.order_by("title")


_VERSIONS = ImmutableCache()


def get_version(actor, key, version=None):
    """The version `version` of form `key`, the latest when None."""
    form = get_form(actor, key)
    number = form.latest_version if version is None else version
    found = _VERSIONS.get(
        ("form", key, number), lambda: FormVersion.objects(form=key, version=number).first()
    )
    if found is None:
        raise NotFound("Cette version du formulaire n'existe pas.")
    return form, found


def create_form(actor, data, publish=True):
    """Create a form and publish its first version; return (form, version).

    With publish=False the schemas become the form's draft (checked when it is published)
    and the version returned is None.
    """
    data = check(schemas.FORM_CREATE, data)
    owner = owner_by_key(data.get("structure"))
    policy.require(actor, "form.manage", owner)
    _check_purpose(data.get("purpose", "patient"), owner)
    if publish:
        check_publishable(data["schema"], data.get("ui_schema"))
    form = Form(
        key=data["key"],
        title=data["title"],
        description=data.get("description"),
        owner=owner.id if owner else None,
        sector=data.get("sector") or (owner.sector if owner else None),
        category=data["category"],
        purpose=data.get("purpose", "patient"),
        created_by=audit.actor_id(actor),
    )
    save_unique(form, Conflict(DUPLICATE_KEY, fields={"/key": DUPLICATE_KEY}), insert=True)
    audit.record(actor, "form.create", form, key=form.key)
    if not publish:
        save_draft(actor, form, form.title, data["schema"], data.get("ui_schema") or {})
        return form, None
    return form, _publish(actor, form, data["schema"], data.get("ui_schema") or {}, form.title)


PLATFORM_ONLY = (
    "Un formulaire interne de la plateforme est commun à toute la plateforme : choisissez "
    "« Toute la plateforme » comme propriétaire."
)


def _check_purpose(purpose, owner):
    if purpose == "platform" and owner is not None:
        raise InvalidInput({"/purpose": PLATFORM_ONLY}, PLATFORM_ONLY)


def set_purpose(actor, form, purpose):
    """Say what `form` is for: "patient" (filled on dossiers) or "platform" (a step of the
    platform's own processes, never filed on a dossier)."""
    policy.require(actor, "form.manage", owner_of(form))
    if purpose not in PURPOSES:
        raise InvalidInput({"/purpose": "Finalité inconnue."})
    _check_purpose(purpose, owner_of(form))
    if purpose != form.purpose:
        Form.objects(id=form.id).update_one(set__purpose=purpose, set__updated_at=utcnow())
        form.purpose = purpose
        audit.record(actor, "form.purpose", form, key=form.key, purpose=purpose)
    return form


def fillable_on(actor, dossier):
    """The published forms `actor` may fill on `dossier` (the dossier's form picker)."""
    found = Form.objects(latest_version__gt=0).order_by("title")
    return [form for form in found if policy.can(actor, "form.fill", (dossier, form))]


def publish_version(actor, form, data):
    """Publish a new immutable version of `form`; earlier versions stay readable."""
    policy.require(actor, "form.manage", owner_of(form))
    data = check(schemas.VERSION_CREATE, data)
    check_publishable(data["schema"], data.get("ui_schema"))
    title = data.get("title") or form.title
    return _publish(actor, form, data["schema"], data.get("ui_schema") or {}, title)


def _publish(actor, form, schema, ui_schema, title):
    number = form.latest_version + 1
    version = FormVersion(
        form=form.key,
        version=number,
        title=title,
        schema_json=_canonical(schema),
        ui_schema_json=_canonical(ui_schema),
        digest=_digest(schema, ui_schema, title),
        author=audit.actor_id(actor),
    )
    concurrent = Conflict("Une autre version vient d'être publiée : rechargez et réessayez.")
    save_unique(version, concurrent, insert=True)
    # Compare-and-set: the latest version only ever moves forward.
    Form.objects(key=form.key, latest_version=number - 1).update_one(
        set__latest_version=number, set__title=title
    )
    form.latest_version, form.title = number, title
    audit.record(actor, "form.publish", form, key=form.key, version=number)
    return version


def owner_choices(actor):
    return structure_owner_choices(actor, "form.manage")


def can_manage(actor, form):
    return policy.can(actor, "form.manage", owner_of(form))


def require_manage(actor, form):
    policy.require(actor, "form.manage", owner_of(form))


def save_draft(actor, form, title, schema, ui_schema):
    """Keep unpublished work: checked only for being JSON objects of a bounded size."""
    policy.require(actor, "form.manage", owner_of(form))
    problems = {}
    for name, value in (("schema", schema), ("ui_schema", ui_schema)):
        if not isinstance(value, dict):
            problems[f"/{name}"] = "Ce champ doit contenir un objet JSON."
        elif len(_canonical(value).encode()) > MAX_SCHEMA_BYTES:
            problems[f"/{name}"] = f"Le schéma dépasse {MAX_SCHEMA_BYTES // 1024} Kio."
    if not title or len(title) > 200:
        problems["/title"] = "Saisissez un titre de 1 à 200 caractères."
    if problems:
        raise InvalidInput(problems)
    Form.objects(id=form.id).update_one(
        set__draft_title=title,
        set__draft_schema_json=_canonical(schema),
        set__draft_ui_schema_json=_canonical(ui_schema),
        set__draft_updated_at=utcnow(),
        set__draft_updated_by=audit.actor_id(actor),
    )
    form.reload()
    audit.record(actor, "form.draft", form, key=form.key)
    return form


def publish_draft(actor, form):
    """Publish the draft as the next version, then forget the draft."""
    if not form.has_draft:
        raise InvalidInput({"/": "Il n'y a pas de brouillon à publier."})
    version = publish_version(
        actor,
        form,
        {
            "title": form.draft_title or form.title,
            "schema": json.loads(form.draft_schema_json),
            "ui_schema": json.loads(form.draft_ui_schema_json or "{}"),
        },
    )
    Form.objects(id=form.id).update_one(
        unset__draft_title=True,
        unset__draft_schema_json=True,
        unset__draft_ui_schema_json=True,
        unset__draft_updated_at=True,
        unset__draft_updated_by=True,
    )
    form.reload()
    return version


def working_copy(actor, form):
    """(title, schema, ui_schema) the editors start from: the draft, else the latest version,
    else an empty form."""
    if form.has_draft:
        return (
            form.draft_title or form.title,
            json.loads(form.draft_schema_json),
            json.loads(form.draft_ui_schema_json or "{}"),
        )
    if form.latest_version:
        _form, version = get_version(actor, form.key)
        return version.title, version.schema, version.ui_schema
    return form.title, dict(EMPTY_SCHEMA), {}


def design(actor, form, operation, *args):
    """Apply one operation of the field-by-field designer to the form's draft."""
    require_manage(actor, form)
    title, schema, ui_schema = working_copy(actor, form)
    if operation not in DESIGNER_OPERATIONS:
        raise ValueError(operation)
    result = getattr(designer, operation)(schema, ui_schema, *args)
    save_draft(actor, form, title, result[0], result[1])
    return result


def export_definition(form, version):
    """The form as a file: what `parcours forms sync` and the import read back."""
    owner = owner_of(form)
    definition = {
        "key": form.key,
        "title": version.title,
        "description": form.description,
        "category": form.category,
        "sector": form.sector,
        "purpose": form.purpose if form.purpose != "patient" else None,
        "schema": version.schema,
        "ui_schema": version.ui_schema,
    }
    if owner is not None:
        definition["structure"] = owner.key
    return {k: v for k, v in definition.items() if v is not None}


def validate_submission(version, data):
    """Return `data` if it is a valid submission of `version`, else raise InvalidInput."""
    return validate_data(version.form, version.version, version.schema, data)


# --- forms shipped as files ------------------------------------------------------------------


def sync_directory(folder, actor=policy.SYSTEM):
    """Load every *.json form of `folder`: create new ones, publish a version for changed ones.

    Return {"created": [...], "published": [...], "unchanged": [...]} of form keys.
    Idempotent: an unchanged file publishes nothing.
    """
    report = {"created": [], "published": [], "unchanged": []}
    for path in sorted(Path(folder).glob("*.json")):
        definition = json.loads(path.read_text(encoding="utf-8"))
        form = Form.objects(key=definition.get("key")).first()
        if form is None:
            create_form(actor, definition)
            report["created"].append(definition["key"])
            continue
        set_purpose(actor, form, definition.get("purpose", "patient"))
        latest = FormVersion.objects(form=form.key, version=form.latest_version).first()
        ui_schema = definition.get("ui_schema") or {}
        digest = _digest(definition["schema"], ui_schema, definition["title"])
        if latest is not None and latest.digest == digest:
            report["unchanged"].append(form.key)
            continue
        publish_version(
            actor,
            form,
            {k: definition[k] for k in ("title", "schema", "ui_schema") if k in definition},
        )
        report["published"].append(form.key)
    return report
