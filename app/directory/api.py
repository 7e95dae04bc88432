"""API: the directory's search and a professional's entry (public contact only)."""

from flask import request

from app.api.core import current_api_user, route
from app.directory import search
from app.paging import page_size

TAG = "Annuaire"
CRITERIA = ("name", "profession", "specialty", "commune", "postcode", "department", "has_account")


def professional_json(professional, actor=None):
    """What anyone signed in may read of an entry: never a personal phone number or e-mail,
    only the public contact of the places where they work and their MSSanté address."""
    found = {
        "id": str(professional.id),
        "name": professional.name,
        "civility": professional.civility or None,
        "last_name": professional.last_name,
        "first_name": professional.first_name or None,
        "profession": professional.profession,
        "profession_label": professional.profession_label,
        "specialty": professional.specialty or None,
        "rpps": professional.rpps or None,
        "id_type": professional.id_type,
        "mss": professional.mss or None,
        "has_account": professional.user is not None,
        "active": professional.active,
        "sites": [
            {
                k: getattr(site, k) or None
                for k in (
                    "name",
                    "address",
                    "postcode",
                    "commune",
                    "department",
                    "phone",
                    "email",
                    "mode",
                )
            }
            for site in professional.sites
        ],  # fmt: skip
    }
    if actor is not None:
        actions = search.actions(actor, professional)
        found["user"] = str(professional.user) if actions["write"] else None
    return found


@route(
    "/directory",
    "GET",
    "Chercher dans l'annuaire (par ordre alphabétique, page suivante avec `after`)",
    params=(*CRITERIA, "after", "per_page"),
    tag=TAG,
)
def search_directory():
    actor = current_api_user()
    criteria = search.Criteria.from_args(request.args)
    per_page = page_size(search.PER_PAGE)
    found, after = search.search(actor, criteria, request.args.get("after"), per_page)
    return {"items": [professional_json(p) for p in found], "next": after}


@route("/directory/<professional_id>", "GET", "Un professionnel de l'annuaire", tag=TAG)
def get_professional(professional_id):
    actor = current_api_user()
    return professional_json(search.get(actor, professional_id), actor)
