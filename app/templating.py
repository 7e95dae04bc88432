"""Template globals and filters shared by every page."""

from datetime import date

from flask_babel import format_date, format_datetime
from flask_login import current_user

from app import __version__, policy
from app.reference import (
    ACCESS_LEVELS,
    CARE_ROLES,
    CONSENT_MODES,
    DATA_CATEGORIES,
    IDENTITY_DOCUMENTS,
    LANES,
    LIVING_SITUATIONS,
    PROFESSION_CATEGORIES,
    PROFESSIONS,
    PURPOSES,
    SECTORS,
    SEXES,
    STRUCTURE_KINDS,
    STRUCTURE_ROLES,
    USER_STATUSES,
    VISIBILITIES,
    profession_label,
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
        parcours_version=__version__,
        DATA_CATEGORIES=DATA_CATEGORIES,
        PROFESSIONS=PROFESSIONS,
        SECTORS=SECTORS,
        STRUCTURE_KINDS=STRUCTURE_KINDS,
        STRUCTURE_ROLES=STRUCTURE_ROLES,
        USER_STATUSES=USER_STATUSES,
        ACCESS_LEVELS=ACCESS_LEVELS,
        CARE_ROLES=CARE_ROLES,
        LANES=LANES,
        PURPOSES=PURPOSES,
        CONSENT_MODES=CONSENT_MODES,
        LIVING_SITUATIONS=LIVING_SITUATIONS,
        PROFESSION_CATEGORIES=PROFESSION_CATEGORIES,
        SEXES=SEXES,
        VISIBILITIES=VISIBILITIES,
        IDENTITY_DOCUMENTS=IDENTITY_DOCUMENTS,
    )
    app.jinja_env.filters["datetime"] = lambda value: (
        format_datetime(value, "d MMM yyyy HH:mm") if value else "—"
    )
    app.jinja_env.filters["date"] = lambda value: format_date(value, "d MMM yyyy") if value else "—"
    # Calendar days kept as "YYYY-MM-DD" (dossier dates): "12 mars 1941".
    app.jinja_env.filters["day"] = lambda value: (
        format_date(date.fromisoformat(value), "d MMMM yyyy") if value else "—"
    )
    app.jinja_env.filters["filesize"] = _filesize
    app.jinja_env.filters["profession"] = profession_label


def _filesize(size):
    if size is None:
        return ""
    if size < 1024:
        return f"{size} o"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} Kio".replace(".", ",")
    return f"{size / 1024 / 1024:.1f} Mio".replace(".", ",")
