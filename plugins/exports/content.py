"""The export's content as plain data, shared by the formats: labels, not keys."""

from datetime import UTC

from app.discussions.services import RESTRICTED, named
from app.formkit.plain import labelled
from app.reference import CARE_ROLES, DATA_CATEGORIES, ENTRY_KINDS, profession_label


def iso(moment):
    """An instant as ISO 8601 with its offset (MongoDB gives UTC without one)."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def patient(view):
    identity = view.dossier.identity
    return {
        "display_name": identity.display_name,
        "birth_name": identity.birth_name,
        "used_name": identity.used_name or None,
        "first_names": identity.first_names,
        "birth_date": identity.birth_date,
        "sex": identity.sex,
        # RNIV: the INS travels only with a qualified identity.
        "ins": identity.ins if identity.qualified else None,
        "identity_status": identity.status,
        "identity_status_label": identity.status_label,
    }


def circle(view):
    return [
        {"name": m.name, "care_role": m.care_role,
         "care_role_label": CARE_ROLES.get(m.care_role, m.care_role),
         "profession": profession_label(m.profession) if m.profession else None,
         "since": m.since, "until": m.until}
        for m in view.members
    ]  # fmt: skip


def entry(view, found):
    version = view.forms.get((found.form, found.form_version)) if found.kind == "form" else None
    return {
        "id": str(found.id),
        "kind": found.kind,
        "kind_label": ENTRY_KINDS.get(found.kind, found.kind),
        "category": found.category,
        "category_label": DATA_CATEGORIES.get(found.category, found.category),
        "title": (version.title if version else None) or found.title or "",
        "text": found.text or None,
        "form": found.form,
        "form_version": found.form_version,
        "answers": labelled(version.schema, version.ui_schema, found.data) if version else None,
        "data": found.data if found.kind == "form" else None,
        "document": {"filename": found.filename, "content_type": found.content_type,
                     "size": found.size, "sha256": found.sha256} if found.file else None,
        "author": found.author_name,
        "author_profession": profession_label(found.author_profession)
        if found.author_profession else None,
        "author_structure": found.author_structure,
        "created_at": iso(found.created_at),
        "version": found.version,
    }  # fmt: skip


def pathways(view):
    return [
        {"id": str(instance.id), "name": instance.name or instance.pathway,
         "pathway": instance.pathway, "status": instance.status,
         "started_at": iso(instance.started_at),
         "tasks": [{"title": t.title, "status": t.status,
                    "due_at": iso(t.due_at), "completed_at": iso(t.completed_at)}
                   for t in tasks]}
        for instance, tasks in view.pathways
    ]  # fmt: skip


def messages(view):
    return [
        {"seq": m.seq, "author": m.author_name, "body": m.body or "",
         "created_at": iso(m.created_at),
         "attachments": [a.filename if named(a, view.documents) else RESTRICTED
                         for a in m.attachments]}
        for m in view.messages
    ]  # fmt: skip


def whole(view):
    structure = view.structure
    return {
        "format": "parcours-export", "format_version": 1, "kind": view.kind,
        "generated_at": iso(view.generated_at),
        "generated_by": {"id": str(view.actor.id), "name": view.actor.name},
        "structure": {"id": str(view.dossier.structure),
                      "name": getattr(structure, "name", None)},
        "dossier": {"id": str(view.dossier.id), "status": view.dossier.status},
        "patient": patient(view),
        "consent": {"mode": view.dossier.consent.mode, "date": view.dossier.consent.date,
                    "withdrawn_on": view.dossier.consent.withdrawn_on},
        "circle": circle(view) if view.kind == "dossier" else [],
        "entries": [entry(view, e) for e in sorted(view.entries, key=lambda e: e.created_at)],
        "pathways": pathways(view),
        "messages": messages(view),
    }  # fmt: skip
