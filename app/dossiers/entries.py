"""Entries of a dossier: form submissions, notes and documents, with their history.

An edit keeps the previous state as an EntryVersion; a removal is a soft delete, traced. An
entry one may not see answers like one that does not exist (404): nothing of it leaks.
"""

import json

from bson import ObjectId

from app import audit, policy, signals
from app.clock import utcnow
from app.dossiers import documents, schemas, timeline
from app.dossiers.listing import LIST_FIELDS
from app.dossiers.models import Dossier, Entry, EntryVersion, TimelineItem
from app.dossiers.services import get_in_dossier, object_id
from app.errors import Conflict, Forbidden, NotFound
from app.formkit import services as forms
from app.reference import DATA_CATEGORIES, ENTRY_KINDS
from app.validation import InvalidInput, check

NOT_FOUND = "Cette entrée n'existe pas ou vous n'y avez pas accès."
DOCUMENT_META = {
    "type": "object",
    "additionalProperties": False,
    "required": ["category", "visibility"],
    "properties": {
        "title": {"type": "string", "maxLength": 200},
        "text": {"type": "string", "maxLength": 2000},
        "category": schemas.ENTRY_CREATE["properties"]["category"],
        "visibility": schemas.ENTRY_CREATE["properties"]["visibility"],
    },
}


def _require_write(actor, dossier, category):
    if policy.can(actor, "entry.create", (dossier, category)):
        return
    if policy.can(actor, "dossier.view", dossier) and dossier.consent_active:
        raise Forbidden(
            "Votre profession n'est pas habilitée à écrire dans la catégorie "
            f"« {DATA_CATEGORIES[category]} »."
        )
    policy.require(actor, "entry.create", (dossier, category))


FORM_NOT_HERE = {
    "platform": "« {name} » est un formulaire interne de la plateforme : il ne se remplit pas "
    "sur un dossier.",
    "owner": "« {name} » est un formulaire d'une autre structure : il ne se remplit que sur "
    "les dossiers qu'elle coordonne.",
}


def require_fill(actor, dossier, form):
    """Forbidden unless `actor` may file `form` on `dossier` (policy form.fill), saying why:
    a platform's internal form, another structure's, or the profession's habilitation."""
    if policy.can(actor, "form.fill", (dossier, form)):
        return
    if reason := policy.not_used_on(form, dossier):
        raise Forbidden(FORM_NOT_HERE[reason].format(name=form.title))
    _require_write(actor, dossier, form.category)
    policy.require(actor, "form.fill", (dossier, form))


def _author(actor, dossier):
    snapshot = timeline.actor_snapshot(actor, dossier)
    return {
        "author": actor.id,
        "author_name": snapshot["actor_name"],
        "author_profession": snapshot["actor_profession"],
        "author_structure": snapshot["actor_structure"],
    }


def _in_data(error):
    """A form's field errors, as pointers into the request's "data"."""
    return InvalidInput(
        {f"/data{pointer}": m for pointer, m in error.fields.items()}, error.message
    )


def _summary(entry, verb="ajouté"):
    label = {"form": "Formulaire", "note": "Note", "document": "Document"}[entry.kind]
    title = entry.title or ENTRY_KINDS[entry.kind]
    return f"{label} {verb} : {title}"


def _publish(actor, dossier, entry, action):
    """Put the write on the timeline with the entry's visibility, and audit it."""
    item = _on_timeline(actor, dossier, entry, action)
    _audit(actor, dossier, entry, action)
    return item


def _on_timeline(actor, dossier, entry, action):
    kind = "document" if entry.kind == "document" else "entry"
    verb = {"create": "ajouté", "update": "modifié", "delete": "supprimé"}[action]
    return timeline.append(
        actor,
        dossier,
        kind,
        _summary(entry, verb),
        entry=entry,
        visibility=entry.visibility,
        category=entry.category,
    )


def _audit(actor, dossier, entry, action):
    audit.record(
        actor,
        f"entry.{action}",
        entry,
        dossier=str(dossier.id),
        kind=entry.kind,
        version=entry.version,
    )


def add_entry(actor, dossier, data):
    """A note ({note, category, visibility}) or a form submission ({form, data, visibility})."""
    data = check(schemas.ENTRY_CREATE, data)
    if ("note" in data) == ("form" in data):
        message = "Envoyez soit une note (note), soit un formulaire rempli (form et data)."
        raise InvalidInput({"/note": message}, message)
    if "form" in data:
        if "data" not in data:
            raise InvalidInput({"/data": "Ce champ est obligatoire."})
        form, version = forms.get_version(actor, data["form"])
        require_fill(actor, dossier, form)
        try:
            submitted = forms.validate_submission(version, data["data"])
        except InvalidInput as error:
            raise _in_data(error) from None
        return add_submission(
            actor, dossier, form, version, submitted, data["visibility"], data.get("title")
        )
    if "category" not in data:
        raise InvalidInput({"/category": "Choisissez la catégorie de la note."})
    _require_write(actor, dossier, data["category"])
    entry = Entry(
        dossier=dossier.id,
        category=data["category"],
        visibility=data["visibility"],
        kind="note",
        text=data["note"],
        title=data.get("title") or None,
        **_author(actor, dossier),
    )
    return _save_new(actor, dossier, entry)


def add_submission(actor, dossier, form, version, submitted, visibility, title=None):
    """A form submission already validated against `version` (a pathway step's, for one)."""
    require_fill(actor, dossier, form)
    entry = Entry(
        dossier=dossier.id,
        category=form.category,
        visibility=visibility,
        kind="form",
        form=form.key,
        form_version=version.version,
        title=title or version.title,
        data_json=json.dumps(submitted, ensure_ascii=False),
        **_author(actor, dossier),
    )
    return _save_new(actor, dossier, entry)


def _save_new(actor, dossier, entry):
    # Numbered on the timeline first, so that the entry is inserted with its number.
    entry.id = ObjectId()
    entry.timeline_seq = _on_timeline(actor, dossier, entry, "create").seq
    entry.save(force_insert=True)
    _audit(actor, dossier, entry, "create")
    signals.entry_added.send(actor, dossier=dossier, entry=entry)
    return entry


def add_document(actor, dossier, upload, data):
    """A checked documents.Upload, stored in GridFS, as an entry of the dossier."""
    data = check(DOCUMENT_META, data)
    _require_write(actor, dossier, data["category"])
    file_id = documents.store(upload, {"dossier": str(dossier.id)})
    entry = Entry(
        dossier=dossier.id,
        kind="document",
        category=data["category"],
        visibility=data["visibility"],
        title=data.get("title") or upload.filename,
        text=data.get("text") or None,
        file=file_id,
        filename=upload.filename,
        content_type=upload.content_type,
        size=upload.size,
        sha256=upload.sha256,
        **_author(actor, dossier),
    )
    return _save_new(actor, dossier, entry)


def get_entry(actor, entry_id, action="entry.view"):
    """(dossier, entry) if `actor` may do `action` on the entry; 404 if they may not see it."""
    return get_in_dossier(actor, Entry, entry_id, action, "entry.view", NOT_FOUND)


def attachable(actor, dossier, ids, pointer, documents_only=False):
    """The entries `ids` of `dossier` that `actor` sees, to attach to a message (a thread's,
    an MSSanté mail's), read in one query; one that is not is refused at `pointer`/n. The
    policy sees no removed entry."""
    what = "Document" if documents_only else "Élément"
    elsewhere = ("Ce n'est pas un document de ce dossier." if documents_only
                 else "Cet élément n'est pas dans ce dossier.")  # fmt: skip
    oids = [object_id(entry_id) for entry_id in ids]
    ours = Entry.objects(id__in=[oid for oid in oids if oid], dossier=dossier.id) if dossier else []
    by_id = {entry.id: entry for entry in ours}
    found = []
    for n, (entry_id, oid) in enumerate(zip(ids, oids, strict=True)):
        entry = by_id.get(oid)
        if entry is None or not policy.can(actor, "entry.view", (dossier, entry)):
            # Elsewhere or unseen: the full lookup tells which without revealing what the
            # actor may not see.
            try:
                get_entry(actor, entry_id)
            except NotFound:
                raise InvalidInput({f"{pointer}/{n}": f"{what} introuvable."}) from None
            raise InvalidInput({f"{pointer}/{n}": elsewhere})
        if documents_only and entry.kind != "document":
            raise InvalidInput({f"{pointer}/{n}": elsewhere})
        found.append(entry)
    return found


def openable(actor, ids, dossier=None):
    """The ids, among `ids`, of the entries `actor` may open (entry.view), read in one query
    (and their dossiers in a second, unless `dossier` is theirs): what mentions an entry (a
    message's attachment, the result of a task or a step) names it only to them."""
    ids = {i for i in ids if i}
    found = list(Entry.objects(id__in=list(ids)).exclude("data_json")) if ids else []
    if dossier is not None:
        dossiers = {dossier.id: dossier}
    elif found:
        wanted = list({e.dossier for e in found})
        dossiers = {d.id: d for d in Dossier.objects(id__in=wanted).only(*LIST_FIELDS)}
    else:
        return set()
    return {
        e.id
        for e in found
        if e.dossier in dossiers and policy.can(actor, "entry.view", (dossiers[e.dossier], e))
    }


def file_name(entry):
    """The name an entry goes by as a file: a document's own, a note's or a form's title as
    the PDF a person reads."""
    if entry.kind == "document":
        return entry.filename
    return documents.safe_filename(entry.title or ENTRY_KINDS[entry.kind], "pdf")


def read_entry(actor, entry_id):
    """(dossier, entry) for reading it; the read is audited like a dossier's."""
    dossier, entry = get_entry(actor, entry_id)
    audit.record(actor, "entry.read", entry, dossier=str(dossier.id))
    return dossier, entry


def list_entries(actor, dossier, kind=None):
    policy.require(actor, "dossier.view", dossier)
    found = Entry.objects(dossier=dossier.id, deleted_at=None).order_by("-created_at")
    if kind:
        found = found.filter(kind=kind)
    return [e for e in found if policy.can(actor, "entry.view", (dossier, e))]


def update_entry(actor, entry_id, data, expected_version=None):
    """Edit an entry (its author); the state before is kept. `expected_version`, when given,
    refuses an edit made over a newer version (409): two edits do not silently overwrite."""
    dossier, entry = get_entry(actor, entry_id, "entry.edit")
    data = check(schemas.ENTRY_UPDATE, data)
    if expected_version is not None and expected_version != entry.version:
        raise Conflict("Cette entrée a été modifiée entre-temps : rechargez-la.")
    changes = {}
    if "note" in data:
        if entry.kind != "note":
            raise InvalidInput({"/note": "Seule une note a un texte."})
        changes["text"] = data["note"]
    if "data" in data:
        if entry.kind != "form":
            raise InvalidInput({"/data": "Seul un formulaire a des données."})
        _, version = forms.get_version(actor, entry.form, entry.form_version)
        try:
            submitted = forms.validate_submission(version, data["data"])
        except InvalidInput as error:
            raise _in_data(error) from None
        changes["data_json"] = json.dumps(submitted, ensure_ascii=False)
    if "title" in data:
        changes["title"] = data["title"] or None
    if "visibility" in data:
        changes["visibility"] = data["visibility"]
    EntryVersion(
        entry=entry.id,
        version=entry.version,
        title=entry.title,
        text=entry.text,
        data_json=entry.data_json,
        category=entry.category,
        visibility=entry.visibility,
        form_version=entry.form_version,
        edited_by=entry.updated_by or str(entry.author),
        edited_at=entry.updated_at,
    ).save(force_insert=True)
    updates = {f"set__{name}": value for name, value in changes.items()}
    done = Entry.objects(id=entry.id, version=entry.version, deleted_at=None).update_one(
        inc__version=1, set__updated_at=utcnow(), set__updated_by=str(actor.id), **updates
    )
    if not done:
        raise Conflict("Cette entrée a été modifiée entre-temps : rechargez-la.")
    entry.reload()
    if "visibility" in changes:
        TimelineItem.objects(entry=entry.id).update(set__visibility=entry.visibility)
    _publish(actor, dossier, entry, "update")
    return entry


def versions_of(actor, entry_id):
    """(dossier, entry, earlier states newest first); audited as a read."""
    dossier, entry = read_entry(actor, entry_id)
    earlier = EntryVersion.objects(entry=entry.id).order_by("-version")
    return dossier, entry, list(earlier)


def delete_entry(actor, entry_id, data):
    dossier, entry = get_entry(actor, entry_id, "entry.delete")
    data = check(schemas.ENTRY_DELETE, data)
    now = utcnow()
    done = Entry.objects(id=entry.id, deleted_at=None).update_one(
        set__deleted_at=now,
        set__deleted_by=str(actor.id),
        set__deletion_reason=data.get("reason"),
    )
    if not done:
        raise NotFound(NOT_FOUND)
    entry.reload()
    TimelineItem.objects(entry=entry.id).update(set__deleted_at=now)
    # The trace of the removal has the removed entry's visibility, without its id.
    timeline.append(
        actor,
        dossier,
        "document" if entry.kind == "document" else "entry",
        _summary(entry, "supprimé"),
        visibility=entry.visibility,
        category=entry.category,
        reason=data.get("reason"),
    )
    audit.record(actor, "entry.delete", entry, dossier=str(dossier.id), reason=data.get("reason"))
    return entry


def open_document(actor, entry_id):
    """(entry, GridFS file) for a download; audited."""
    dossier, entry = get_entry(actor, entry_id)
    if entry.kind != "document" or entry.file is None:
        raise NotFound(NOT_FOUND)
    audit.record(actor, "document.download", entry, dossier=str(dossier.id))
    return entry, documents.open_file(entry.file)
