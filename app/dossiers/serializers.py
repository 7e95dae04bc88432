"""Dossiers, entries and timeline items as the API shows them to a viewer."""

from flask import url_for

from app import policy
from app.dossiers.entries import openable
from app.dossiers.listing import identity_summary
from app.dossiers.schemas import DETAIL_FIELDS


def _iso(moment):
    return moment.isoformat() if moment else None


def _strip(mapping):
    return {k: v for k, v in mapping.items() if v not in (None, "")}


def member_json(member):
    return _strip(
        {
            "id": str(member.id),
            "user": str(member.user) if member.user else None,
            "professional": str(member.professional) if member.professional else None,
            "name": member.name,
            "profession": member.profession,
            "care_role": member.care_role,
            "since": member.since,
            "until": member.until,
        }
    )


def dossier_json(dossier, viewer, structure=None):
    identity = dossier.identity
    consent = dossier.consent
    # The consent's scan is an entry: named only to who may open it (no query without one).
    scan = consent.document if consent.document in openable(viewer, [consent.document],
                                                            dossier) else None  # fmt: skip
    return {
        "id": str(dossier.id),
        "identity": _strip(
            {
                "birth_name": identity.birth_name,
                "used_name": identity.used_name,
                "first_names": identity.first_names,
                "birth_date": identity.birth_date,
                "sex": identity.sex,
                "birth_place_code": identity.birth_place_code,
                "ins": identity.ins,
                "status": identity.status,
                "document": identity.document,
                "ins_checked": bool(identity.ins_checked),
                "checked_at": identity.checked_at.isoformat() if identity.checked_at else None,
                "traits": identity.fingerprint,  # to send back with a check (identity/check)
            }
        ),
        "status": dossier.status,
        "structure": structure.key if structure else None,
        "referent": str(dossier.referent) if dossier.referent else None,
        "consent": _strip(
            {
                "mode": consent.mode,
                "date": consent.date,
                "collected_by": consent.collected_by_name,
                "document": str(scan) if scan else None,
                "withdrawn_on": consent.withdrawn_on,
                "withdrawal_reason": consent.withdrawal_reason,
            }
        ),
        **_strip({name: dossier[name] for name in DETAIL_FIELDS}),
        "contacts": [_strip(c.to_mongo().to_dict()) for c in dossier.contacts],
        "members": [member_json(m) for m in dossier.members],
        "exclusions": [
            _strip(
                {
                    "user": str(e.user) if e.user else None,
                    "professional": str(e.professional) if e.professional else None,
                    "name": e.name,
                    "recorded_at": _iso(e.recorded_at),
                }
            )
            for e in dossier.exclusions
        ],
        "permissions": {
            action.split(".", 1)[1]: policy.can(viewer, action, dossier)
            for action in ("dossier.edit", "dossier.manage_members", "dossier.withdraw_consent")
        },
        "created_at": _iso(dossier.created_at),
        "updated_at": _iso(dossier.updated_at),
    }


def dossier_summary_json(dossier):
    return {
        **identity_summary(dossier),
        "status": dossier.status,
        "updated_at": _iso(dossier.updated_at),
    }


def entry_json(entry):
    shown = {
        "id": str(entry.id),
        "dossier": str(entry.dossier),
        "kind": entry.kind,
        "category": entry.category,
        "visibility": entry.visibility,
        "title": entry.title,
        "author": _strip(
            {
                "id": str(entry.author),
                "name": entry.author_name,
                "profession": entry.author_profession,
                "structure": entry.author_structure,
            }
        ),
        "version": entry.version,
        "created_at": _iso(entry.created_at),
        "updated_at": _iso(entry.updated_at),
    }
    if entry.kind == "note":
        shown["note"] = entry.text
    elif entry.kind == "form":
        shown.update(form=entry.form, form_version=entry.form_version, data=entry.data)
    else:
        shown["document"] = {
            "filename": entry.filename,
            "content_type": entry.content_type,
            "size": entry.size,
            "sha256": entry.sha256,
            "description": entry.text,
            "url": url_for("api.download_document", entry_id=str(entry.id)),
        }
    return shown


def timeline_item_json(item):
    return _strip(
        {
            "seq": item.seq,
            "kind": item.kind,
            "summary": item.summary,
            "time": _iso(item.time),
            "entry": str(item.entry) if item.entry else None,
            "actor": _strip(
                {
                    "name": item.actor_name,
                    "profession": item.actor_profession,
                    "structure": item.actor_structure,
                }
            ),
            "visibility": item.visibility,
            "category": item.category,
        }
    )
