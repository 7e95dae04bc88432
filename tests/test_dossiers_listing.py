"""Finding one's dossiers: "Mes dossiers" paged with cursors through windows of its sort key,
and filtered by name. (The identity search, for the dossiers one is not in, is
test_dossiers_search.py.)"""

from datetime import UTC, datetime, timedelta

import pytest
from dossier_helpers import new_dossier

from app.dossiers import listing
from app.dossiers.models import Dossier

NAMES = ["Abadie", "Zola", "Martin", "Élie", "Bernard", "Durand", "Ortiz", "0scar", "Young"]


@pytest.fixture
def many(coordinator, structure):
    """23 dossiers with names across the alphabet and activity spread over four years."""
    now = datetime.now(UTC)
    made = []
    for n in range(23):
        name = f"{NAMES[n % len(NAMES)]}{chr(97 + n)}"
        dossier = new_dossier(
            coordinator,
            structure,
            identity={"birth_name": name, "used_name": "", "first_names": "Anne"},
        )
        # Spread activity and creation over years: windows of every size get used.
        moment = now - timedelta(days=n * n * 3)
        Dossier.objects(id=dossier.id).update_one(set__updated_at=moment, set__created_at=moment)
        made.append(dossier.id)
    return made


def walk(actor, sort, per_page=5, scope="mine"):
    seen, cursor, pages = [], None, 0
    while True:
        found, cursor = listing.list_dossiers(actor, "", scope, sort, cursor, per_page)
        seen += found
        pages += 1
        if cursor is None:
            return seen, pages


@pytest.mark.parametrize("sort", ["activity", "created", "name"])
@pytest.mark.parametrize("scope", ["mine", "structure"])
def test_every_dossier_once_in_order_page_after_page(coordinator, many, sort, scope):
    seen, pages = walk(coordinator, sort, scope=scope)
    assert sorted(d.id for d in seen) == sorted(many)
    assert pages == 5
    field = listing.SORTS[sort]
    keys = [d[field] for d in seen]
    assert keys == sorted(keys, reverse=sort != "name")


def test_a_garbled_cursor_starts_over(coordinator, many):
    first, _ = listing.list_dossiers(coordinator, after="n'importe quoi~x", per_page=5)
    again, _ = listing.list_dossiers(coordinator, per_page=5)
    assert [d.id for d in first] == [d.id for d in again]


def test_a_name_filter_pages_too(coordinator, structure):
    for n in range(7):
        new_dossier(coordinator, structure, identity={"birth_name": f"Martin{n}", "used_name": ""})
    new_dossier(coordinator, structure, identity={"birth_name": "Durand", "used_name": ""})
    found, cursor = listing.list_dossiers(coordinator, "marti", sort="name", per_page=5)
    rest, end = listing.list_dossiers(coordinator, "marti", sort="name", after=cursor, per_page=5)
    names = [d.identity.birth_name for d in found + rest]
    assert names == [f"Martin{n}" for n in range(7)]
    assert end is None


def test_the_api_pages_with_next(api_as, coordinator, many):
    api = api_as(coordinator)
    seen, cursor = [], None
    while True:
        answer = api.get("/dossiers?per_page=10" + (f"&after={cursor}" if cursor else "")).json
        seen += [item["id"] for item in answer["items"]]
        cursor = answer["next"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(str(i) for i in many)


def test_the_web_list_links_to_the_next_page(login_as, coordinator, many):
    web = login_as(coordinator)
    page = web.get("/dossiers/?sort=name").get_data(as_text=True)
    assert "Suivants" in page
    assert page.count('class="list-group-item list-group-item-action') == 20
