"""Template globals and filters shared by every page."""

from flask_babel import format_date, format_datetime
from flask_login import current_user

from app import __version__, policy
from app.reference import (
    DATA_CATEGORIES,
    PROFESSIONS,
    SECTORS,
    STRUCTURE_KINDS,
    STRUCTURE_ROLES,
    USER_STATUSES,
)


def _can(action, target=None):
    return current_user.is_authenticated and policy.can(current_user, action, target)


def _administered_structure_ids():
    if not current_user.is_authenticated:
        return []
    return [m.structure for m in current_user.memberships if "structure_admin" in m.roles]


def register(app):
    app.jinja_env.globals.update(
        can=_can,
        administered_structure_ids=_administered_structure_ids,
        version=__version__,
        DATA_CATEGORIES=DATA_CATEGORIES,
        PROFESSIONS=PROFESSIONS,
        SECTORS=SECTORS,
        STRUCTURE_KINDS=STRUCTURE_KINDS,
        STRUCTURE_ROLES=STRUCTURE_ROLES,
        USER_STATUSES=USER_STATUSES,
    )
    app.jinja_env.filters["datetime"] = lambda value: (
        format_datetime(value, "d MMM yyyy HH:mm") if value else "—"
    )
    app.jinja_env.filters["date"] = lambda value: format_date(value, "d MMM yyyy") if value else "—"
