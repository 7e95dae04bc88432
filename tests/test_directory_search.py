"""The directory search (app/directory/search.py, its page /annuaire and GET /api/v1/directory)
over the RPPS sample (2,000 persons) and entries added by hand: every criterion and their
combinations against an independent reading of the entries, pages walked with the cursor,
the profile and its actions, bad input, who may add entries."""

import re
from html import unescape

import pytest
from helpers import html, snapshot
from test_directory_import import field, import_rpps, sample_lines, write

from app.directory.models import Professional
from app.text import fold, tokens

PERSONAL_PHONE = "06 99 88 77 66"


@pytest.fixture
def directory(runner, make_user, structure, tmp_path):
    """A third of the sample imported; a hand-made LEFÈBVRE entry; an account linked to one
    person."""
    import_rpps(runner, write(tmp_path, sample_lines()[:800], "sample.txt"))
    lefebvre = Professional(
        last_name="LEFÈBVRE", first_name="Jeanne", profession="assistant_social",
        mss="jeanne.lefebvre@social.mssante.fr",
    )  # fmt: skip
    lefebvre.save()
    for last, first in (("LY", "Minh"), ("LY", "Anh"), ("LYON", "Paul")):
        Professional(last_name=last, first_name=first, profession="60").save()
    # A common surname, read by the initials of its first names, and its neighbours.
    martins = [("MARTIN", f"{initial}{n}ne") for initial in "ajmz0" for n in "abcdefg"]
    martins += [("MARTIN", ""), ("MARTIN-DUPONT", "Léa"), ("MARTINEZ", "Ana"),
                ("DURAND", "Martin"), ("MARTIN", "-Jo"), ("MARTIN", "Émile")]  # fmt: skip
    for last, first in martins:
        Professional(last_name=last, first_name=first, profession="60").save()
    linked = Professional.objects(source="rpps").order_by("rpps").first()
    user = make_user(structure, name=linked.name, profession=linked.profession)
    user.update(set__phone=PERSONAL_PHONE)
    linked.user = user.id
    linked.save()
    return {"lefebvre": lefebvre, "linked": linked, "user": user}


def expected(name="", profession="", specialty="", commune="", postcode="", department="",
             has_account=False):  # fmt: skip
    """The ids of the active entries that meet the criteria, in name order: read here from
    the entries' own fields, not from the search's keys."""
    words = tokens(name)
    found = []
    for p in Professional.objects(active=True):
        names = tokens(p.last_name, p.first_name)
        sites = p.sites
        # A two-letter word is a whole name; longer ones begin a name.
        if not all(any(n == w if len(w) == 2 else n.startswith(w) for n in names) for w in words):
            continue
        if profession and p.profession != profession:
            continue
        if specialty and fold(p.specialty or "") != fold(specialty):
            continue
        if commune and fold(commune) not in {fold(s.commune or "") for s in sites}:
            continue
        if postcode and postcode not in {s.postcode for s in sites}:
            continue
        if department and department not in {s.department for s in sites}:
            continue
        if has_account and p.user is None:
            continue
        found.append(p)
    found.sort(key=lambda p: (fold(f"{p.last_name} {p.first_name or ''}").strip(), p.id))
    return [str(p.id) for p in found]


def walk(api, per_page=7, **criteria):
    """Every page of the API's search, following `next`."""
    query = "&".join(f"{k}={v}" for k, v in criteria.items())
    found, after = [], None
    for _ in range(500):
        url = f"/directory?{query}&per_page={per_page}" + (f"&after={after}" if after else "")
        page = api.get(url)
        assert page.status_code == 200, page.json
        found += [item["id"] for item in page.json["items"]]
        after = page.json["next"]
        if after is None:
            return found
    raise AssertionError("the pages never end")


CASES = [
    {"name": "lefeb"},
    {"name": "LEFÈBVRE jea"},
    {"name": "andre"},  # ANDRÉ: accents and case ignored
    {"name": "ly"},  # two letters: LY exactly, not LYON
    {"name": "ly", "profession": "60"},
    {"profession": "60"},
    {"profession": "10", "department": "31"},
    {"department": "34"},
    {"commune": "beziers"},
    {"commune": "Nîmes", "profession": "21"},
    {"postcode": "31000"},
    {"postcode": "31000", "profession": "60"},
    {"specialty": "Cardiologie et maladies vasculaires"},
    {"specialty": "cardiologie et maladies vasculaires", "department": "66"},
    {"has_account": "1"},
    {"name": "martin"},  # 36 MARTIN, then MARTIN-DUPONT and MARTINEZ, and Martin DURAND
    {"name": "martin j"},
    {"name": "marti"},
    {"name": "martin", "profession": "60"},
    {"name": "andr", "department": "65", "profession": "21"},
]


def test_each_search_finds_exactly_the_entries_in_name_order(api_as, professional, directory):
    api = api_as(professional)
    for criteria in CASES:
        want = expected(**{k: (v == "1") if k == "has_account" else v for k, v in criteria.items()})
        assert want, criteria
        assert walk(api, **criteria) == want, criteria


def test_lefeb_finds_lefebvre_and_the_page_shows_her_without_an_account(
    login_as, professional, directory
):
    browser = login_as(professional)
    names = re.findall(
        r'href="/annuaire/[0-9a-f]{24}">([^<]+)<', html(browser.get("/annuaire?name=lefeb"))
    )
    assert len(names) == 20
    assert all(unescape(n).startswith("LEFÈBVRE ") for n in names)
    page = browser.get("/annuaire?name=jeanne+lefeb")
    assert page.status_code == 200
    results = html(page).split('id="resultats-annuaire"', 1)[1]
    assert "LEFÈBVRE Jeanne" in unescape(results)
    assert "Assistant de service social" in unescape(results)
    assert "a un compte" not in results


def test_the_page_follows_its_cursor_to_the_next_results(login_as, professional, directory):
    browser = login_as(professional)
    want = expected(department="34")
    seen, url = [], "/annuaire?department=34"
    while url:
        page = unescape(html(browser.get(url)))
        seen += re.findall(r'href="/annuaire/([0-9a-f]{24})"', page)
        more = re.search(r'id="suivants" href="([^"]+)"', page)
        url = more.group(1) if more else None
    assert seen == want


def test_an_inactive_entry_is_left_out(api_as, professional, directory):
    gone = Professional.objects(source="rpps", user=None).order_by("-rpps").first()
    gone.update(set__active=False)
    assert str(gone.id) not in walk(api_as(professional), 50, name=gone.last_name)
    assert str(gone.id) not in expected(name=gone.last_name)


def test_a_newer_rpps_file_keeps_the_account_of_a_changed_person(
    runner, tmp_path, api_as, professional, directory
):
    linked = directory["linked"]
    lines = sample_lines()
    changed = [
        field(line, 40, "0511111111") if line.split("|")[1] == linked.rpps else line
        for line in lines
    ]
    output, record = import_rpps(runner, write(tmp_path, changed))
    assert record.report["updated"] == 1, output
    assert str(linked.id) in walk(api_as(professional), 50, has_account="1")
    assert linked.reload().sites[0].phone == "0511111111"


# --- the profile ----------------------------------------------------------------------------------


def test_the_profile_shows_public_contact_and_never_a_personal_phone(
    login_as, api_as, professional, directory
):
    linked = directory["linked"]
    page = unescape(html(login_as(professional).get(f"/annuaire/{linked.id}")))
    assert linked.sites[0].commune in page
    assert linked.sites[0].phone in page
    assert "A un compte sur la plateforme" in page
    assert PERSONAL_PHONE not in page
    entry = api_as(professional).get(f"/directory/{linked.id}")
    assert entry.status_code == 200
    assert PERSONAL_PHONE not in str(entry.json)
    assert entry.json["has_account"] is True
    assert entry.json["user"] == str(directory["user"].id)  # to write to them
    assert {"name", "postcode", "commune", "phone"} <= set(entry.json["sites"][0])


def test_the_profile_offers_what_the_reader_may_do(login_as, professional, coordinator, directory):
    lefebvre, linked = directory["lefebvre"], directory["linked"]
    as_coordinator = html(login_as(coordinator).get(f"/annuaire/{lefebvre.id}"))
    actions = as_coordinator.split('id="actions"', 1)[1].split("</div>", 1)[0]
    assert f"/invitations?professional={lefebvre.id}" in actions
    assert f"/annuaire/{lefebvre.id}/cercle" in actions
    assert "Écrire un message" not in unescape(actions)  # no account: nobody to write to
    assert "jeanne.lefebvre@social.mssante.fr" in as_coordinator
    as_nurse = html(login_as(professional).get(f"/annuaire/{linked.id}"))
    actions = unescape(as_nurse.split('id="actions"', 1)[1].split("</div>", 1)[0])
    assert f"/messages/nouvelle?avec={directory['user'].id}" in actions
    assert "/invitations" not in actions  # has an account already
    assert "/cercle" not in actions  # a nurse does not manage circles of care


def test_add_to_a_circle_of_care_from_the_profile(login_as, coordinator, structure, directory):
    from dossier_helpers import new_dossier

    dossier = new_dossier(coordinator, structure)
    lefebvre = directory["lefebvre"]
    browser = login_as(coordinator)
    page = unescape(html(browser.get(f"/annuaire/{lefebvre.id}/cercle")))
    assert dossier.identity.display_name in page
    added = browser.post(
        f"/dossiers/{dossier.id}/cercle/membres",
        {"professional": str(lefebvre.id), "care_role": "assistant_social"},
    )
    assert added.status_code == 302, html(added)
    assert "LEFÈBVRE" in unescape(html(browser.get(f"/dossiers/{dossier.id}/cercle")))


def test_an_unknown_entry_is_404(login_as, api_as, professional):
    for bad in ("nope", "0" * 24, "f" * 300):
        assert login_as(professional).get(f"/annuaire/{bad}").status_code == 404
        answer = api_as(professional).get(f"/directory/{bad}")
        assert answer.status_code == 404
        assert answer.json["error"]["message"] == "Ce professionnel n'est pas dans l'annuaire."


# --- bad input ------------------------------------------------------------------------------------


BAD = [
    ({"postcode": "31"}, "/postcode", "Code postal attendu sur 5 chiffres."),
    ({"postcode": "3100A"}, "/postcode", "Code postal attendu sur 5 chiffres."),
    (
        {"department": "31<script>"},
        "/department",
        "Département attendu sous la forme 31, 2A ou 974.",
    ),
    ({"profession": "sorcier"}, "/profession", "Profession inconnue."),
    ({"name": "x" * 101}, "/name", "100 caractères au plus."),
    ({"name": "a"}, "/name", None),  # nothing usable asked
    ({}, "/name", None),
]


def test_a_search_not_understood_is_refused_field_by_field(login_as, api_as, professional):
    for args, path, message in BAD:
        refused_field_by_field(login_as, api_as(professional), professional, args, path, message)


def refused_field_by_field(login_as, api, professional, args, path, message):
    query = "&".join(f"{k}={v}" for k, v in args.items())
    answer = api.get(f"/directory?{query}")
    assert answer.status_code == 422
    fields = answer.json["error"]["fields"]
    assert path in fields
    if message:
        assert fields[path] == message
    if args:
        page = login_as(professional).get(f"/annuaire?{query}")
        assert page.status_code == 400
        shown = unescape(html(page))
        assert (message or "Saisissez un nom") in shown
        assert "<script>" not in html(page).split("<main", 1)[-1].replace("&lt;script&gt;", "")


def test_a_garbled_cursor_starts_from_the_beginning(api_as, professional, directory):
    api = api_as(professional)
    first = api.get("/directory?department=34&per_page=5").json["items"]
    again = api.get("/directory?department=34&per_page=5&after=garbage~").json["items"]
    assert again == first


def test_signed_out_nobody_searches(client, app, directory):
    assert client.get("/annuaire?name=andre").status_code == 302
    assert client.get("/api/v1/directory?name=andre").status_code == 401


# --- entries added by hand ------------------------------------------------------------------------


def test_a_structure_admin_adds_a_social_worker_then_anyone_finds_her(
    login_as, api_as, structure_admin, professional, directory
):
    browser = login_as(structure_admin)
    assert "Ajouter un professionnel" in unescape(html(browser.get("/annuaire")))
    made = browser.post("/annuaire/nouveau", {
        "last_name": "Éducatrice", "first_name": "Zoé", "profession": "educateur_specialise",
        "mss": "zoe.educatrice@ccas31.mssante.fr", "site_name": "CCAS de Toulouse",
        "address": "1 rue du Capitole", "postcode": "31000", "commune": "Toulouse",
        "phone": "05 61 00 00 00",
    })  # fmt: skip
    assert made.status_code == 302, html(made)
    found = api_as(professional).get("/directory?name=educ&department=31").json["items"]
    assert [item["name"] for item in found] == ["Zoé Éducatrice"]
    assert found[0]["sites"][0]["department"] == "31"
    assert found[0]["mss"] == "zoe.educatrice@ccas31.mssante.fr"


BAD_ENTRIES = [
    ({"postcode": "ABCDE"}, "/postcode"),
    ({"mss": "zoe@gmail.com"}, "/mss"),
    ({"phone": "<b>appelez</b>"}, "/phone"),
    ({"last_name": ""}, "/last_name"),
    ({"last_name": "x" * 101}, "/last_name"),
    ({"profession": "sorcier"}, "/profession"),
]


def test_a_bad_entry_is_refused_in_french_and_nothing_written(login_as, structure_admin):
    browser = login_as(structure_admin)
    data = {"last_name": "Zoé", "profession": "educateur_specialise", "postcode": "31000"}
    for change, path in BAD_ENTRIES:
        before = snapshot("professionals")
        page = browser.post("/annuaire/nouveau", {**data, **change})
        assert page.status_code == 400, change
        name = path.strip("/")
        assert f'id="e-{name}"' in html(page), change
        assert snapshot("professionals") == before


def test_a_field_professional_may_not_add_entries(login_as, professional, directory):
    browser = login_as(professional)
    assert "Ajouter un professionnel" not in unescape(html(browser.get("/annuaire")))
    assert browser.get("/annuaire/nouveau").status_code == 403
    before = snapshot("professionals")
    refused = browser.post("/annuaire/nouveau", {"last_name": "X", "profession": "cesf"})
    assert refused.status_code == 403
    assert snapshot("professionals") == before
