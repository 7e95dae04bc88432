"""The timeline ("ligne de vie") of a dossier: items numbered per dossier, read newest first.

Pages are bounded ranges of numbers on the (dossier, seq) index, never an open-ended sort:
the embedded database reads every match of a query before it sorts (DESIGN.md §7). Items the
viewer may not see are skipped; the window doubles until the page is full, so a dossier full
of others' private notes costs a few more round trips, not a scan.
"""

from app import db, policy
from app.clock import utcnow
from app.dossiers.models import Dossier, TimelineItem
from app.structures.services import cached_structure

KINDS = {
    "entry": "Formulaires et notes",
    "document": "Documents",
    "member": "Cercle de soins",
    "consent": "Consentement",
    "dossier": "Dossier",
    "pathway": "Parcours",
    "message": "Messages",
}


def _structure_name(user, dossier):
    """The structure an actor acts for here: the coordinating one if theirs, else their first."""
    ids = [m.structure for m in user.memberships]
    if not ids:
        return None
    chosen = cached_structure(dossier.structure if dossier.structure in ids else ids[0])
    return chosen.name if chosen else None


def actor_snapshot(user, dossier):
    """Who did something, as the timeline shows it even after they change job or name."""
    return {
        "actor_name": user.name,
        "actor_profession": user.profession,
        "actor_structure": _structure_name(user, dossier),
    }


def append(
    actor, dossier, kind, summary, *, entry=None, visibility="public", category=None, **details
):
    """Number and store one item; returns it. Two round trips: the counter, the insert."""
    seq = db.increment(
        Dossier._get_collection(), dossier.id, "timeline_seq", also={"updated_at": utcnow()}
    )
    dossier.timeline_seq = seq
    item = TimelineItem(
        dossier=dossier.id,
        seq=seq,
        kind=kind,
        summary=summary,
        entry=entry.id if entry is not None else None,
        author=actor.id,
        visibility=visibility,
        category=category,
        details=details,
        **actor_snapshot(actor, dossier),
    )
    item.save(force_insert=True)
    return item


def page(actor, dossier, before=None, kind=None, per_page=20):
    """(items, next_before): the newest items below number `before` that `actor` may see."""
    policy.require(actor, "dossier.view", dossier)
    top = dossier.timeline_seq + 1 if before is None else min(before, dossier.timeline_seq + 1)
    found, window = [], per_page * 2
    while top > 1 and len(found) <= per_page:
        low = max(1, top - window)
        query = {"dossier": dossier.id, "seq": {"$gte": low, "$lt": top}}
        if kind:
            query["kind"] = kind
        for item in TimelineItem.objects(__raw__=query).order_by("-seq"):
            if policy.can(actor, "entry.view", (dossier, item)):
                found.append(item)
        top, window = low, window * 2
    shown = found[:per_page]
    return shown, (shown[-1].seq if len(found) > per_page else None)
