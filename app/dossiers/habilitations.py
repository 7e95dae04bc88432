"""The habilitation matrix: which profession category reads or writes which data category."""

import copy

from flask import g

from app import audit, policy
from app.clock import utcnow
from app.dossiers import schemas
from app.dossiers.models import HabilitationMatrix
from app.reference import DEFAULT_HABILITATIONS, profession_category
from app.validation import check

LEVELS = ("none", "read", "write")


def matrix():
    """The matrix in force, read once per request."""
    if "habilitations" not in g:
        stored = HabilitationMatrix.objects(id="matrix").first()
        g.habilitations = stored.rules if stored else copy.deepcopy(DEFAULT_HABILITATIONS)
    return g.habilitations


def access(user, category):
    """ "none", "read" or "write": what `user`'s profession gives on `category`."""
    return profession_access(user.profession, category)


def profession_access(profession, category):
    """ "none", "read" or "write": what the profession (a code) gives on `category`."""
    return matrix().get(category, {}).get(profession_category(profession), "none")


def profession_may_write(profession, category):
    return profession_access(profession, category) == "write"


def may_read(user, category):
    return access(user, category) in ("read", "write")


def may_write(user, category):
    return access(user, category) == "write"


def writable_categories(user):
    return [category for category, row in matrix().items() if may_write(user, category)]


def update_matrix(actor, rules):
    """Replace the matrix; "none" cells are dropped, absent cells mean "none"."""
    policy.require(actor, "habilitation.manage")
    rules = check(schemas.HABILITATIONS, rules)
    kept = {
        category: {who: level for who, level in row.items() if level != "none"}
        for category, row in rules.items()
    }
    HabilitationMatrix(
        id="matrix", rules=kept, updated_by=audit.actor_id(actor), updated_at=utcnow()
    ).save()
    g.habilitations = kept
    audit.record(
        actor,
        "habilitation.update",
        object_type="HabilitationMatrix",
        object_id="matrix",
        rules=kept,
    )
    return kept
