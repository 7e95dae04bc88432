"""Dossiers: creation under consent with the duplicate check, reading, search, identity edits.

Every read of a dossier and every write is audited with the dossier's id.
"""

from bson import ObjectId

from app import audit, policy
from app.clock import today, utcnow
from app.db import object_id
from app.dossiers import identity as identity_rules
from app.dossiers import listing, schemas, timeline
from app.dossiers.models import CareMember, Consent, Contact, Dossier, Identity
from app.errors import Conflict, NotFound
from app.reference import CONSENT_MODES, IDENTITY_STATUSES
from app.structures.models import Structure
from app.validation import InvalidInput, check

NOT_FOUND = "Ce dossier n'existe pas ou vous n'y avez pas accès."
CHANGED_MEANWHILE = (
    "L'identité a été modifiée depuis l'affichage de cette page : relisez-la, puis "
    "enregistrez de nouveau la vérification."
)
DUPLICATE = "Ce dossier existe peut-être déjà."


def find(dossier_id):
    """The dossier with this id, whoever asks (for services that check access themselves)."""
    oid = object_id(dossier_id)
    found = Dossier.objects(id=oid).first() if oid else None
    if found is None:
        raise NotFound(NOT_FOUND)
    return found


def get_in_dossier(actor, model, item_id, action, view_action, not_found):
    """(dossier, item) for a document of `model` that belongs to a dossier (an entry, a task),
    if `actor` may do `action` on it; one they may not see answers 404 like a missing one."""
    oid = object_id(item_id)
    item = model.objects(id=oid).first() if oid else None
    if item is None:
        raise NotFound(not_found)
    dossier = find(item.dossier) if item.dossier is not None else None  # a platform task
    if not policy.can(actor, view_action, (dossier, item)):
        raise NotFound(not_found)
    policy.require(actor, action, (dossier, item))
    return dossier, item


def get_dossier(actor, dossier_id, action="dossier.view", record=True):
    """The dossier if `actor` may do `action` on it. A dossier one may not see answers exactly
    like one that does not exist: its existence is not revealed."""
    dossier = find(dossier_id)
    if not policy.can(actor, action, dossier):
        if policy.can(actor, "dossier.view", dossier):
            policy.require(actor, action, dossier)  # seen, not allowed: 403
        raise NotFound(NOT_FOUND)
    if record and action == "dossier.view":
        audit.record(actor, "dossier.read", dossier, dossier=str(dossier.id))
    return dossier


def _details(data):
    found = {name: data[name] for name in schemas.DETAIL_FIELDS if name in data}
    if "contacts" in data:
        found["contacts"] = [Contact(**c) for c in data["contacts"] if any(c.values())]
    if found.get("living_situation") == "":
        found["living_situation"] = None
    return found


def _checked(schema, data):
    data = check(schema, data)
    problems = identity_rules.date_problems(data)
    if problems:
        raise InvalidInput(problems)
    return data


def _structure(key):
    structure = Structure.objects(key=key, active=True).first()
    if structure is None:
        raise InvalidInput({"/structure": "Cette structure n'existe pas."})
    return structure


def duplicates_of(actor, identity):
    """Dossiers that probably are the same person, among those `actor` may find (never one
    whose consent is withdrawn, nor one that refused them): one indexed query on the birth
    date."""
    same_day = Dossier.objects(identity__birth_date=identity["birth_date"])
    return [
        d
        for d in same_day.only(*listing.LIST_FIELDS)
        if identity_rules.probable_duplicate(identity, d.identity)
        and policy.can(actor, "dossier.find", d)
    ]


def create_dossier(actor, data, consent_file=None):
    """Create a dossier with its consent; `consent_file` is an optional checked Upload.

    Raises Conflict with the candidates when a probable duplicate exists, unless the
    caller confirms with "confirm_new": the coordinator may ask to join it instead.
    """
    data = _checked(schemas.DOSSIER_CREATE, data)
    structure = _structure(data["structure"])
    policy.require(actor, "dossier.create", structure)
    if not data.get("confirm_new"):
        candidates = duplicates_of(actor, data["identity"])
        if candidates:
            structures = listing.structures_of(candidates)
            raise Conflict(
                DUPLICATE,
                extra={"candidates": [listing.minimal_identity(d, structures) for d in candidates]},
            )
    identity = {k: v for k, v in data["identity"].items() if v != ""}
    dossier = Dossier(
        identity=Identity(**identity),
        structure=structure.id,
        referent=actor.id,
        consent=Consent(
            mode=data["consent"]["mode"],
            date=data["consent"]["date"],
            collected_by=str(actor.id),
            collected_by_name=actor.name,
        ),
        members=[
            CareMember(
                user=actor.id,
                name=actor.name,
                profession=actor.profession,
                care_role="coordinateur",
                since=today(),
                added_by=str(actor.id),
            )
        ],
        created_by=str(actor.id),
        **_details(data),
    )
    dossier.save(force_insert=True)
    audit.record(actor, "dossier.create", dossier, dossier=str(dossier.id))
    timeline.append(actor, dossier, "dossier", "Dossier créé")
    consent = dossier.consent
    timeline.append(
        actor,
        dossier,
        "consent",
        f"Consentement recueilli ({CONSENT_MODES[consent.mode].lower()}) le {consent.date}",
    )
    if consent_file is not None:
        from app.dossiers.entries import add_document  # entries need a saved dossier

        entry = add_document(
            actor,
            dossier,
            consent_file,
            {
                "title": "Recueil du consentement",
                "category": "administratif",
                "visibility": "shared",
            },
        )
        Dossier.objects(id=dossier.id).update_one(set__consent__document=entry.id)
        dossier.consent.document = entry.id
    return dossier


def update_dossier(actor, dossier, data):
    policy.require(actor, "dossier.edit", dossier)
    data = _checked(schemas.DOSSIER_UPDATE, data)
    changed = sorted(data)
    if "identity" in data:
        typed = {k: v for k, v in data["identity"].items() if v != ""}
        if not identity_rules.traits_changed(dossier.identity, typed):
            # The check still holds: it vouched for the same traits.
            kept = ("document", "ins_checked", "checked_by", "checked_at")
            typed.update({name: dossier.identity[name] for name in kept})
        elif dossier.identity.status != "provisoire":
            changed.append("identity.status")  # the trace says the check was undone
        dossier.identity = Identity(**typed)
    if "referent" in data:
        referent = dossier.member_for(ObjectId(data["referent"]))
        if referent is None:
            message = "Le référent doit être membre du cercle de soins."
            raise InvalidInput({"/referent": message}, message)
        dossier.referent = referent.user
    for name, value in _details(data).items():
        setattr(dossier, name, value)
    dossier.updated_at = utcnow()
    dossier.save()
    audit.record(actor, "dossier.update", dossier, dossier=str(dossier.id), fields=changed)
    timeline.append(actor, dossier, "dossier", "Dossier mis à jour", fields=changed)
    return dossier


def check_identity(actor, dossier, data):
    """Record how the identity was checked (RNIV): the document of high confidence shown,
    the INS obtained or checked through the INSi teleservice (in the professional's own
    software: Parcours does not call INSi). Traced, with the resulting status."""
    policy.require(actor, "dossier.edit", dossier)
    data = check(schemas.IDENTITY_CHECK, data)
    identity = dossier.identity
    if data["ins_checked"] and not identity.ins:
        message = "Saisissez d'abord le matricule INS de l'usager dans son identité."
        raise InvalidInput({"/ins_checked": message}, message)
    if data.get("traits", identity.fingerprint) != identity.fingerprint:
        raise Conflict(CHANGED_MEANWHILE)
    status = identity_rules.verification_status(data["document"], data["ins_checked"], identity.ins)
    now = utcnow()
    # Only on the traits just read: a change made meanwhile is not vouched for.
    same_traits = {f"identity__{name}": identity[name] for name in identity_rules.STRICT_TRAITS}
    done = Dossier.objects(id=dossier.id, **same_traits).update_one(
        set__identity__document=data["document"] or None,
        set__identity__ins_checked=data["ins_checked"],
        set__identity__checked_by=actor.id,
        set__identity__checked_at=now,
        set__updated_at=now,
    )
    if not done:
        raise Conflict(CHANGED_MEANWHILE)
    dossier.reload()
    audit.record(actor, "dossier.identity_check", dossier, dossier=str(dossier.id),
                 status=status, document=data["document"] or None)  # fmt: skip
    label = IDENTITY_STATUSES[status].lower()
    timeline.append(actor, dossier, "dossier", f"Identité {label}", status=status)
    return dossier
