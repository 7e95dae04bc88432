"""Round trips to MongoDB per request stay constant: no query inside a loop over results."""

import pytest


def _commands_for(db_commands, request):
    db_commands.reset()
    response = request()
    assert response.status_code == 200
    return db_commands.count, list(db_commands.targets)


@pytest.fixture
def populate(make_user, make_structure):
    structures = [make_structure() for _ in range(3)]

    def add(n):
        for i in range(n):
            make_user(structures[i % 3], roles=["professional", "coordinator"])

    return add


@pytest.mark.parametrize("url", ["/admin/utilisateurs", "/structures/", "/admin/journal", "/"])
def test_admin_pages_cost_the_same_with_more_rows(
    login_as, platform_admin, populate, db_commands, url
):
    web = login_as(platform_admin)
    populate(3)
    web.get(url)  # the first query of a collection also creates its indexes
    few, _ = _commands_for(db_commands, lambda: web.get(url))
    populate(30)
    many, names = _commands_for(db_commands, lambda: web.get(url))
    assert many == few, names
    assert many <= 4, names


@pytest.mark.parametrize("url", ["/users?per_page=100", "/structures", "/me"])
def test_api_lists_cost_the_same_with_more_rows(api_as, platform_admin, populate, db_commands, url):
    api = api_as(platform_admin)
    api.get("/me")  # the token's first use writes its last-use time: not measured here
    populate(3)
    few, _ = _commands_for(db_commands, lambda: api.get(url))
    populate(30)
    many, names = _commands_for(db_commands, lambda: api.get(url))
    assert many == few, names
    assert many <= 4, names


def test_members_page_costs_the_same_with_more_members(
    login_as, structure_admin, structure, make_user, db_commands
):
    web = login_as(structure_admin)
    url = f"/structures/{structure.key}/membres"
    web.get(url)  # the first page of a session counts the inbox (kept a minute)
    few, _ = _commands_for(db_commands, lambda: web.get(url))
    for _ in range(20):
        make_user(structure)
    many, names = _commands_for(db_commands, lambda: web.get(url))
    assert many == few, names


@pytest.fixture
def busy_dossier(coordinator, structure, make_user):
    """A dossier and a function that adds members and notes to it."""
    from dossier_helpers import new_dossier

    from app.dossiers import circle, entries

    dossier = new_dossier(coordinator, structure)

    def grow(n):
        for _ in range(n):
            member = make_user(structure, profession="10")
            circle.add_member(
                coordinator, dossier, {"user": str(member.id), "care_role": "medecin_specialiste"}
            )
            entries.add_entry(
                member, dossier, {"note": "Suivi", "category": "medical", "visibility": "shared"}
            )
        dossier.reload()

    return dossier, grow


@pytest.mark.parametrize(
    "url", ["/dossiers/{id}", "/dossiers/{id}/cercle", "/dossiers/", "/dossiers/{id}/identite"]
)
def test_dossier_pages_cost_the_same_with_more_members_and_entries(
    login_as, coordinator, busy_dossier, db_commands, url
):
    dossier, grow = busy_dossier
    web = login_as(coordinator)
    url = url.format(id=dossier.id)
    grow(2)
    web.get(url)
    few, few_names = _commands_for(db_commands, lambda: web.get(url))
    grow(12)
    many, names = _commands_for(db_commands, lambda: web.get(url))
    assert many == few, (few_names, names)
    assert many <= 10, names  # 9, and the bell's unread count (one read by key) on every page


@pytest.mark.parametrize(
    "url", ["/dossiers/{id}", "/dossiers/{id}/timeline", "/dossiers/{id}/entries", "/dossiers"]
)
def test_dossier_api_costs_the_same_with_more_members_and_entries(
    api_as, coordinator, busy_dossier, db_commands, url
):
    dossier, grow = busy_dossier
    api = api_as(coordinator)
    api.get("/me")
    url = url.format(id=dossier.id)
    grow(2)
    few, _ = _commands_for(db_commands, lambda: api.get(url))
    grow(12)
    many, names = _commands_for(db_commands, lambda: api.get(url))
    assert many == few, names
    assert many <= 9, names
