"""Finding a dossier one is not in (to ask to join it): the whole birth name and the birth date,
or the INS, never a prefix; one indexed equality; only the dossiers one may open or join, shown
as a join summary; every search audited without the traits typed; a limit per account shared
by the web, the API, the join page and the duplicate check."""

import json

import pytest
from dossier_helpers import IDENTITY, VALID_INS, new_dossier
from helpers import field_error, html

from app.audit import AuditEvent
from app.dossiers import circle, listing
from app.dossiers.models import Dossier
from app.dossiers.services import DUPLICATE

SEARCH = "/dossiers/search"
PAGE = "/dossiers/recherche"
WHOLE = {"birth_name": "LEFEBVRE", "birth_date": IDENTITY["birth_date"]}
SUMMARY = {"id", "birth_name", "first_names", "birth_date", "structure", "can_view", "can_join"}


@pytest.fixture
def social_worker(make_user, other_structure):
    """A social worker of another structure, in no circle of care."""
    return make_user(other_structure, profession="assistant_social", name="Assistante Sociale")


@pytest.fixture
def dossier(coordinator, structure):
    return new_dossier(coordinator, structure, identity={"ins": VALID_INS})


def names(items):
    return [(d["birth_name"], d["first_names"]) for d in items]


def test_prefixes_no_longer_list_the_platforms_patients(
    coordinator, structure, social_worker, api_as, login_as
):
    """The reported attack: two 2-letter prefixes, or one with a birth date, listed every
    matching dossier to a professional in none of them."""
    for n in range(5):
        new_dossier(coordinator, structure, identity={"birth_name": f"Teste{n}", "used_name": "",
                                                      "first_names": "Colette"})  # fmt: skip
    api, web = api_as(social_worker), login_as(social_worker)
    for query in ("q=te+co", f"q=te&birth_date={IDENTITY['birth_date']}", "birth_name=te+co",
                  "birth_name=Teste0", f"birth_date={IDENTITY['birth_date']}"):  # fmt: skip
        answer = api.get(f"{SEARCH}?{query}")
        assert answer.status_code == 422, (query, answer.json)
        assert "Teste" not in answer.get_data(as_text=True)
        page = web.get(f"{PAGE}?{query}")
        assert page.status_code == 400, query
        assert "Teste" not in html(page).replace('value="Teste0"', "")
    # A name is a name: "Te" born that day is looked for, and nobody is.
    exact = api.get(f"{SEARCH}?birth_name=te&birth_date={IDENTITY['birth_date']}")
    assert (exact.status_code, exact.json["items"]) == (200, [])
    refused = api.get(f"{SEARCH}?q=te+co").json["error"]
    assert refused["fields"] == {"/birth_name": listing.NAME_NEEDED,
                                 "/birth_date": listing.DATE_NEEDED}  # fmt: skip
    assert refused["message"] == listing.SEARCH_HELP
    page = html(web.get(f"{PAGE}?birth_name=Teste0"))
    assert field_error(page, "birth_date") == listing.DATE_NEEDED.replace("'", "&#39;")


@pytest.mark.parametrize(
    "typed",
    [
        WHOLE,
        {"birth_name": "Lefèbvre", "birth_date": IDENTITY["birth_date"]},
        {"birth_name": " le-fèbvre ", "birth_date": IDENTITY["birth_date"]},
        {"ins": VALID_INS},
        {"ins": " ".join([VALID_INS[:1], VALID_INS[1:3], VALID_INS[3:]])},
        {"ins": VALID_INS, "birth_name": "Autre"},  # half a pair beside the INS is left aside
    ],
)
def test_the_whole_birth_name_and_birth_date_or_the_ins_find_the_person(
    dossier, social_worker, api_as, login_as, typed
):
    found = api_as(social_worker).get(SEARCH, query_string=typed)
    assert found.status_code == 200, found.json
    [item] = found.json["items"]
    assert set(item) == SUMMARY  # no used name, nothing of the situation
    assert (item["id"], item["can_view"], item["can_join"]) == (str(dossier.id), False, True)
    assert (item["first_names"], item["structure"]) == ("Jeanne Marie", "DAC de test")
    page = html(login_as(social_worker).get(PAGE, query_string=typed))
    assert "LEFÈBVRE" in page
    assert "Demander à rejoindre" in page
    assert "Martin" not in page  # the used name


@pytest.mark.parametrize(
    "typed",
    [
        {"birth_name": "Lefeb", "birth_date": IDENTITY["birth_date"]},  # a prefix
        {"birth_name": "Martin", "birth_date": IDENTITY["birth_date"]},  # the used name
        {"birth_name": "Lefebvre Jeanne", "birth_date": IDENTITY["birth_date"]},
        {"birth_name": "Lefebvre", "birth_date": "1941-03-13"},
        {"ins": "269054958815780"},  # another valid INS
    ],
)
def test_anything_less_than_the_exact_traits_finds_nothing(dossier, social_worker, api_as, typed):
    found = api_as(social_worker).get(SEARCH, query_string=typed)
    assert (found.status_code, found.json["items"]) == (200, [])


@pytest.mark.parametrize(
    ("typed", "fields"),
    [
        ({}, {"/birth_name": listing.NAME_NEEDED, "/birth_date": listing.DATE_NEEDED}),
        ({"birth_date": "1941-03-12"}, {"/birth_name": listing.NAME_NEEDED}),
        ({"birth_name": "--", "birth_date": "1941-03-12"}, {"/birth_name": listing.NAME_NEEDED}),
        ({"birth_name": "Lefebvre", "birth_date": "12/03/1941"}, {"/birth_date": None}),
        ({"ins": "185057800608492"}, {"/ins": None}),  # a wrong key
        ({"birth_name": "x" * 101, "birth_date": "1941-03-12"}, {"/birth_name": None}),
    ],
)
def test_bad_searches_are_refused_field_by_field_and_not_audited(
    dossier, social_worker, api_as, typed, fields
):
    refused = api_as(social_worker).get(SEARCH, query_string=typed)
    assert refused.status_code == 422
    error = refused.json["error"]
    assert set(error["fields"]) == set(fields)
    for pointer, message in fields.items():
        assert message is None or error["fields"][pointer] == message
    assert not AuditEvent.objects(action="dossier.search")


def test_a_withdrawn_or_refusing_dossier_is_never_found(
    dossier, coordinator, social_worker, make_user, structure, api_as, login_as
):
    refused = make_user(structure, profession="10", name="Médecin Refusé")
    circle.exclude(coordinator, dossier, {"user": str(refused.id), "reason": "Souhait"})
    for typed in (WHOLE, {"ins": VALID_INS}):
        assert api_as(refused).get(SEARCH, query_string=typed).json["items"] == []
        assert len(api_as(social_worker).get(SEARCH, query_string=typed).json["items"]) == 1
    circle.withdraw_consent(coordinator, dossier, {"date": "2026-01-06", "reason": "Refus"})
    for typed in (WHOLE, {"ins": VALID_INS}):
        assert api_as(social_worker).get(SEARCH, query_string=typed).json["items"] == []
        page = html(login_as(social_worker).get(PAGE, query_string=typed))
        assert "LEFÈBVRE" not in page
        assert "Aucun dossier ne correspond." in page
    # The coordinators keep their read-only view: they still find it, to open it.
    [mine] = api_as(coordinator).get(SEARCH, query_string=WHOLE).json["items"]
    assert (mine["can_view"], mine["can_join"]) == (True, False)


def test_each_search_is_audited_with_a_digest_of_the_traits_not_the_traits(
    dossier, social_worker, api_as, login_as
):
    api_as(social_worker).get(SEARCH, query_string=WHOLE)
    web = login_as(social_worker)
    web.get(PAGE, query_string={"birth_name": "lefebvre", "birth_date": IDENTITY["birth_date"]})
    unknown = {"birth_name": "Inconnu", "birth_date": "1950-01-01"}
    api_as(social_worker).get(SEARCH, query_string=unknown)
    first, second, third = AuditEvent.objects(action="dossier.search").order_by("seq")
    assert first.actor == str(social_worker.id)
    assert (first.origin[:3], second.origin[:3]) == ("api", "web")
    assert first.details["results"] == 1
    assert first.details["dossiers"] == [str(dossier.id)]
    assert first.details["by"] == "birth"
    assert first.details["traits"] == second.details["traits"] != third.details["traits"]
    assert third.details["results"] == 0
    trail = json.dumps([e.to_mongo().to_dict() for e in (first, second, third)], default=str)
    for trait in ("efebvre", "EFEBVRE", IDENTITY["birth_date"], "Inconnu", "1950-01-01"):
        assert trait not in trail


def test_searches_are_limited_per_account_web_and_api_together(
    app, dossier, social_worker, make_user, other_structure, api_as, login_as
):
    app.config["SEARCH_RATE_LIMIT"] = "3 per hour"
    api, web = api_as(social_worker), login_as(social_worker)
    assert web.get(PAGE).status_code == 200  # the empty form is not a search
    assert api.get(SEARCH, query_string=WHOLE).status_code == 200
    assert web.get(PAGE, query_string=WHOLE).status_code == 200
    assert api.get(SEARCH, query_string={"birth_name": "x"}).status_code == 422  # counts too
    limited = api.get(SEARCH, query_string=WHOLE)
    assert limited.status_code == 429
    assert limited.json["error"]["code"] == "too_many_requests"
    assert "Trop de recherches de dossiers" in limited.json["error"]["message"]
    page = web.get(PAGE, query_string=WHOLE)
    assert page.status_code == 429
    assert "Trop de recherches de dossiers" in html(page)
    assert "LEFÈBVRE" not in html(page)
    # The join page names the person too: it counts in the same limit.
    assert web.get(f"/dossiers/{dossier.id}/rejoindre").status_code == 429
    assert AuditEvent.objects(action="dossier.search").count() == 2
    # Another account of the same address is not held back.
    colleague = make_user(other_structure, profession="60")
    assert api_as(colleague).get(SEARCH, query_string=WHOLE).status_code == 200
    assert login_as(colleague).get(f"/dossiers/{dossier.id}/rejoindre").status_code == 200


def test_the_duplicate_check_shows_only_what_a_search_would_and_counts_when_it_does(
    app, dossier, coordinator, make_user, make_structure, other_structure, api_as, login_as
):
    """A coordinator who types a person's identity learns of an existing dossier only if a
    search would show it to them; each answer with candidates counts in the search limit."""
    app.config["SEARCH_RATE_LIMIT"] = "3 per hour"
    body = {"identity": {**IDENTITY, "used_name": ""}, "confirm_new": False,
            "consent": {"mode": "oral", "date": "2026-01-05"}}  # fmt: skip
    third = make_structure(key="troisieme")
    refused = make_user(third, roles=["coordinator"], profession="coordinateur")
    circle.exclude(coordinator, dossier, {"user": str(refused.id), "reason": "Souhait"})
    alone = api_as(refused).post("/dossiers", json={**body, "structure": third.key})
    assert alone.status_code == 201, alone.json  # the dossier that refused them is not shown
    other = make_user(other_structure, roles=["coordinator"], profession="coordinateur")
    api, body = api_as(other), {**body, "structure": other_structure.key}
    twin = api.post("/dossiers", json=body)
    assert (twin.status_code, twin.json["error"]["message"]) == (409, DUPLICATE)
    candidates = twin.json["error"]["candidates"]
    assert [c["id"] for c in candidates if c["structure"] == "DAC de test"] == [str(dossier.id)]
    circle.withdraw_consent(coordinator, dossier, {"date": "2026-01-06", "reason": "Refus"})
    Dossier.objects(id=alone.json["id"]).delete()
    created = api.post("/dossiers", json=body)
    assert created.status_code == 201, created.json  # the withdrawn dossier is not shown
    # Their own new dossier is a candidate now: two more answers with it reach the limit.
    assert api.post("/dossiers", json=body).status_code == 409
    form = {**body["identity"], "consent_mode": "oral", "consent_date": "2026-01-05",
            "structure": other_structure.key}  # fmt: skip
    assert login_as(other).post("/dossiers/nouveau", form).status_code == 409
    limited = api.post("/dossiers", json=body)
    assert (limited.status_code, limited.json["error"]["code"]) == (429, "too_many_requests")
    assert api.get(SEARCH, query_string=WHOLE).status_code == 429


def test_the_search_is_one_equality_on_an_index(app):
    collection = Dossier._get_collection()
    Dossier.ensure_indexes()
    criteria = listing.search_criteria({**WHOLE, "ins": VALID_INS})
    plans = [collection.find(q).explain()["queryPlanner"]["winningPlan"]
             for q in listing.identity_queries(criteria)]  # fmt: skip
    assert [json.dumps(p).count("IXSCAN") for p in plans] == [1, 1], plans
    used = [json.dumps(p) for p in plans]
    assert "birth_key_1_identity.birth_date_1" in used[0]
    assert "identity.ins_1" in used[1]


def test_install_gives_older_dossiers_their_birth_key(dossier, runner, social_worker, api_as):
    from app.cli import cli

    collection = Dossier._get_collection()
    collection.update_one({"_id": dossier.id}, {"$unset": {"birth_key": ""},
                                                "$set": {"name_pairs": ["je le"]}})  # fmt: skip
    assert Dossier.objects.get(id=dossier.id).identity.birth_name == "Lefèbvre"  # still reads
    assert api_as(social_worker).get(SEARCH, query_string=WHOLE).json["items"] == []
    done = runner.invoke(cli, ["install"])
    assert "dossiers reindexed for the identity search: 1" in done.output, done.output
    assert "name_pairs" not in collection.find_one({"_id": dossier.id})
    # (install publishes the terms of use: the API would ask to accept them first)
    assert len(listing.search_identity(social_worker, WHOLE)) == 1
    again = runner.invoke(cli, ["install"])
    assert "dossiers reindexed for the identity search: 0" in again.output


def test_the_help_says_how_to_find_a_dossier(client):
    page = html(client.get("/aide"))
    assert "nom de naissance en entier" in page
    assert "matricule INS" in page
    assert "Chaque recherche est tracée" in page
    assert "Document réservé aux professionnels habilités" in page
