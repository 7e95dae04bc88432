"""Round trips to MongoDB per request stay constant: no query inside a loop over results."""

import pytest


def _commands_for(db_commands, request):
    db_commands.reset()
    response = request()
    assert response.status_code == 200
    return db_commands.count, list(db_commands.names)


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
    few, _ = _commands_for(db_commands, lambda: web.get(url))
    for _ in range(20):
        make_user(structure)
    many, names = _commands_for(db_commands, lambda: web.get(url))
    assert many == few, names
