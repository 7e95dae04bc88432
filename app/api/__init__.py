"""REST API v1: JSON in and out, personal tokens, errors in the format of DESIGN.md §5."""

from app.api import accounts, dossiers, forms, openapi, pathways, structures, tasks  # noqa: F401,E402 - routes register on import
from app.api.core import bp
from app.directory import api as directory  # noqa: F401 - its routes register on import
from app.discussions import api as discussions  # noqa: F401 - its routes register on import
from app.exports import api as exports  # noqa: F401 - its routes register on import
from app.invitations import api as invitations  # noqa: F401 - its routes register on import
from app.notifications import api as notifications  # noqa: F401 - its routes register on import

__all__ = ["bp"]
