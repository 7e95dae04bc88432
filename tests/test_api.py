"""The REST API v1 through the test client: auth, structures, users, members, bad input, audit,
OpenAPI. Every refused request is checked to have written nothing."""

import json
import re
import secrets
from types import SimpleNamespace

import mongoengine
import pytest
from jsonschema import Draft202012Validator

from app import audit, policy
from app.accounts.models import ApiToken, User
from app.accounts.services import create_token, revoke_token, update_user
from app.api.core import ROUTES
from app.audit import AuditEvent
from app.structures.models import Structure
from app.structures.services import update_structure

SYSTEM = policy.SYSTEM
PASSWORD = "correct-horse-battery"  # as in conftest.py
MIB = 1024 * 1024

FORBIDDEN = "Vous n'avez pas le droit de faire cette action."
UNAUTHORIZED = "Authentification requise : fournissez un jeton d'API valide."
INVALID = "Les données envoyées sont invalides."
REQUIRED = "Ce champ est obligatoire."
UNEXPECTED = "Ce champ n'est pas attendu."
NOT_IN_LIST = "Choisissez une valeur de la liste."
BAD_FORMAT = "Le format de la valeur est invalide."
BAD_EMAIL = "Saisissez une adresse e-mail valide."
DUPLICATE_EMAIL = "Un compte existe déjà avec cette adresse e-mail."
DUPLICATE_KEY = "Une structure existe déjà avec cet identifiant."
NO_STRUCTURE = "Cette structure n'existe pas."
NO_ACCOUNT = "Ce compte n'existe pas."
NO_MEMBER = "Ce membre n'existe pas dans cette structure."
NOT_JSON = "Le corps de la requête n'est pas un JSON valide."
NOT_OBJECT = "Le corps de la requête doit être un objet JSON."
WRONG_TYPE = "Le contenu doit être du JSON (en-tête Content-Type: application/json)."
TOO_LARGE = "Les données envoyées sont trop volumineuses."
NO_METHOD = "Cette méthode n'est pas permise sur cette adresse."
NOT_FOUND = "Cette page ou cette ressource n'existe pas."


# --- helpers ---------------------------------------------------------------------------------


def snapshot():
    """Everything a request could write: compare before and after a refused request."""
    db = mongoengine.get_db()
    state = {}
    for name in ("users", "structures", "audit_events", "api_tokens"):
        docs = list(db[name].find({}, sort=[("_id", 1)]))
        for doc in docs:
            doc.pop("last_used_at", None)  # a token's use is not a write of the request
        state[name] = docs
    return state


def assert_error(response, status, code, message=None, fields=None):
    """The error format of DESIGN.md §5; returns the "error" object."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) <= {"code", "message", "fields"}
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"]
    if message is not None:
        assert error["message"] == message
    if fields is not None:
        assert error.get("fields", {}) == fields
    for pointer, text in error.get("fields", {}).items():
        assert pointer.startswith("/")
        assert isinstance(text, str)
        assert text
    return error


def refused(api, method, path, status, code, *, fields=None, message=None, **kwargs):
    """Send a request that must be refused, and check that nothing was written."""
    before = snapshot()
    response = api.request(method, path, **kwargs)
    error = assert_error(response, status, code, message=message, fields=fields)
    assert snapshot() == before
    return error


def new_events(since):
    return list(AuditEvent.objects(seq__gt=since).order_by("seq"))


def last_seq():
    event = AuditEvent.objects.order_by("-seq").only("seq").first()
    return event.seq if event else 0


class _Ids(dict):
    def __init__(self, people):
        super().__init__()
        self.people = people

    def __missing__(self, name):
        return str(getattr(self.people, name).id)


def fill(template, people):
    """`/users/{professional}` -> `/users/<the professional's id>`."""
    return template.format_map(_Ids(people))


# The people of the tests: the conftest ones, and three more.
CONFTEST_PEOPLE = ("platform_admin", "structure_admin", "coordinator", "professional")
MORE_PEOPLE = {
    "other_admin": (
        "other_structure",
        {"roles": ["structure_admin"], "email": "oadmin@example.org", "name": "Autre Admin"},
    ),
    "outsider": ("other_structure", {"email": "outsider@example.org", "name": "Extérieur"}),
    "loner": (None, {"email": "loner@example.org", "name": "Sans Structure"}),
}


class People:
    """people.<name>: that person's account, created on first use (accounts cost time);
    people.all() creates everyone, for the tests where who exists matters."""

    def __init__(self, request):
        self._request = request

    def __getattr__(self, name):
        if name in CONFTEST_PEOPLE:
            user = self._request.getfixturevalue(name)
        elif name in MORE_PEOPLE:
            structure_fixture, fields = MORE_PEOPLE[name]
            structure = (
                self._request.getfixturevalue(structure_fixture) if structure_fixture else None
            )
            user = self._request.getfixturevalue("make_user")(structure, **fields)
        else:
            raise AttributeError(name)
        setattr(self, name, user)
        return user

    def all(self):
        for name in (*CONFTEST_PEOPLE, *MORE_PEOPLE):
            getattr(self, name)
        self._request.getfixturevalue("other_structure")
        return self


@pytest.fixture
def people(request, structure):
    """The structure `dac-test` always exists; people come when first used."""
    return People(request)


@pytest.fixture
def apis(people, api_as):
    """apis.<person>: an API client with a new token of that person, created on first use."""

    class Apis:
        def __getattr__(self, name):
            if name.startswith("_"):
                raise AttributeError(name)
            api = api_as(getattr(people, name))
            setattr(self, name, api)
            return api

    return Apis()


STRUCTURE = {"key": "ssiad-nord", "name": "SSIAD Nord", "sector": "medico_social", "kind": "ssiad"}


def new_user(**fields):
    return {
        "email": "nouveau@example.org",
        "name": "Nouvelle Personne",
        "password": "un-mot-de-passe-long",
        "profession": "10",
        **fields,
    }


# --- /me -------------------------------------------------------------------------------------


def test_me(apis, people):
    response = apis.professional.get("/me")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["id"] == str(people.professional.id)
    assert body["email"] == "pro@example.org"
    assert body["name"] == "Infirmière Pro"
    assert body["profession"] == "60"
    assert body["profession_label"] == "Infirmier"
    assert body["status"] == "active"
    assert body["platform_admin"] is False
    assert body["memberships"] == [{"structure": "dac-test", "roles": ["professional"]}]
    assert "password_hash" not in body
    assert "session_nonce" not in body
    assert "sessions" not in body


def test_me_several_memberships_and_platform_admin(apis, people, structure, other_structure):
    update_user(
        SYSTEM,
        people.coordinator,
        {
            "memberships": [
                {"structure": "dac-test", "roles": ["coordinator", "structure_admin"]},
                {"structure": "autre", "roles": ["professional"]},
            ]
        },
    )
    body = apis.coordinator.get("/me").get_json()
    assert body["memberships"] == [
        {"structure": "dac-test", "roles": ["coordinator", "structure_admin"]},
        {"structure": "autre", "roles": ["professional"]},
    ]
    admin = apis.platform_admin.get("/me").get_json()
    assert admin["platform_admin"] is True
    assert admin["memberships"] == []
    assert admin["email"] == "admin@example.org"


# --- authentication --------------------------------------------------------------------------

# Every route, with a body that a platform admin could send.
ANONYMOUS_REQUESTS = [
    ("GET", "/me", None),
    ("GET", "/structures", None),
    ("POST", "/structures", STRUCTURE),
    ("GET", "/structures/dac-test", None),
    ("PATCH", "/structures/dac-test", {"name": "Piraté"}),
    ("GET", "/structures/dac-test/members", None),
    ("POST", "/structures/dac-test/members", {"email": "loner@example.org", "roles": ["professional"]}),  # noqa: E501
    ("PATCH", "/structures/dac-test/members/{professional}", {"roles": ["structure_admin"]}),
    ("DELETE", "/structures/dac-test/members/{professional}", None),
    ("GET", "/users", None),
    ("POST", "/users", new_user(platform_admin=True)),
    ("GET", "/users/{professional}", None),
    ("PATCH", "/users/{professional}", {"platform_admin": True}),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "method"), [(rule, method) for rule, method, _ in ROUTES])
def test_every_route_requires_a_token(anonymous_api, people, rule, method):
    """Every declared route, those added later too, answers 401 without a token."""
    path = rule.replace("<key>", "dac-test").replace("<user_id>", str(people.professional.id))
    path = re.sub(r"<(?:\w+:)?\w+>", "x", path)
    for headers in ({}, {"Authorization": "Bearer prc_" + secrets.token_urlsafe(32)}):
        before = snapshot()
        response = anonymous_api.request(method.upper(), path, json={}, headers=headers)
        assert_error(response, 401, "unauthorized", UNAUTHORIZED)
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="parcours"'
        assert snapshot() == before


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-header"),
        pytest.param({"Authorization": ""}, id="empty"),
        pytest.param({"Authorization": "Bearer"}, id="bearer-alone"),
        pytest.param({"Authorization": "Bearer    "}, id="bearer-spaces"),
        pytest.param({"Authorization": "Basic YWRtaW46cGFzc3dvcmQ="}, id="basic"),
        pytest.param({"Authorization": "prc_" + "a" * 43}, id="no-scheme"),
        pytest.param({"Authorization": "Bearer prc_" + secrets.token_urlsafe(32)}, id="forged"),
        pytest.param({"Authorization": "Bearer " + secrets.token_urlsafe(32)}, id="no-prefix"),
        pytest.param({"Authorization": "Bearer prc_" + "x" * 500}, id="very-long"),
        pytest.param({"Authorization": "Bearer prc_\u00e9t\u00e9"}, id="non-ascii"),
        pytest.param({"Authorization": "Bearer prc_' OR 1=1 --"}, id="injection"),
    ],
)
def test_requests_without_valid_token_are_refused(anonymous_api, people, headers):
    people.all()
    for method, path, body in ANONYMOUS_REQUESTS:
        kwargs = {"json": body} if body is not None else {}
        before = snapshot()
        response = anonymous_api.request(method, fill(path, people), headers=headers, **kwargs)
        assert_error(response, 401, "unauthorized", UNAUTHORIZED)
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="parcours"'
        assert snapshot() == before


@pytest.fixture
def pro_token(people):
    token, plain = create_token(SYSTEM, people.professional, {"name": "intégration"})
    return SimpleNamespace(doc=token, plain=plain)


def bearer(plain):
    return {"Authorization": f"Bearer {plain}"}


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(lambda t: f"Bearer {t}", id="bearer"),
        pytest.param(lambda t: f"bearer {t}", id="lowercase-scheme"),
        pytest.param(lambda t: f"BEARER  {t} ", id="spaces"),
    ],
)
def test_a_valid_token_authenticates(client, people, pro_token, header):
    response = client.get("/api/v1/me", headers={"Authorization": header(pro_token.plain)})
    assert response.status_code == 200
    assert response.get_json()["id"] == str(people.professional.id)
    assert ApiToken.objects.get(id=pro_token.doc.id).last_used_at is not None


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(lambda t: f"Basic {t}", id="wrong-scheme"),
        pytest.param(lambda t: f"Token {t}", id="token-scheme"),
        pytest.param(lambda t: t, id="no-scheme"),
        pytest.param(lambda t: f"Bearer {t}x", id="suffix"),
        pytest.param(lambda t: f"Bearer {t[:-1]}", id="truncated"),
        pytest.param(lambda t: f"Bearer {t.upper()}", id="upper-case"),
        pytest.param(lambda t: f"Bearer {t[:10]}", id="prefix-only"),
    ],
)
def test_a_mangled_token_is_refused(client, pro_token, header):
    response = client.get("/api/v1/me", headers={"Authorization": header(pro_token.plain)})
    assert_error(response, 401, "unauthorized", UNAUTHORIZED)
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="parcours"'


def test_revoked_token_is_refused(client, people, pro_token):
    assert client.get("/api/v1/me", headers=bearer(pro_token.plain)).status_code == 200
    revoke_token(people.professional, people.professional, str(pro_token.doc.id))
    response = client.get("/api/v1/me", headers=bearer(pro_token.plain))
    assert_error(response, 401, "unauthorized", UNAUTHORIZED)
    assert "WWW-Authenticate" in response.headers
    # Other tokens of the same person keep working.
    _, other = create_token(SYSTEM, people.professional, {"name": "autre"})
    assert client.get("/api/v1/me", headers=bearer(other)).status_code == 200


@pytest.mark.parametrize("status", ["suspended", "requested", "verified"])
def test_token_of_an_inactive_account_is_refused(client, people, pro_token, status):
    assert client.get("/api/v1/me", headers=bearer(pro_token.plain)).status_code == 200
    update_user(SYSTEM, people.professional, {"status": status})
    response = client.get("/api/v1/me", headers=bearer(pro_token.plain))
    assert_error(response, 401, "unauthorized", UNAUTHORIZED)
    assert "WWW-Authenticate" in response.headers
    update_user(SYSTEM, people.professional, {"status": "active"})
    assert client.get("/api/v1/me", headers=bearer(pro_token.plain)).status_code == 200


def test_token_of_a_deleted_account_is_refused(client, people, pro_token):
    User.objects(id=people.professional.id).delete()
    assert_error(client.get("/api/v1/me", headers=bearer(pro_token.plain)), 401, "unauthorized")


def test_suspended_platform_admin_token_cannot_write(client, people, api_as):
    api = api_as(people.platform_admin)
    update_user(SYSTEM, people.platform_admin, {"status": "suspended"})
    refused(api, "POST", "/structures", 401, "unauthorized", json=STRUCTURE)


def test_web_session_does_not_authenticate_the_api(login_as, people):
    people.all()
    browser = login_as(people.platform_admin)
    assert browser.get("/").status_code == 200  # the session works on the web
    response = browser.client.get("/api/v1/me")
    assert_error(response, 401, "unauthorized", UNAUTHORIZED)
    assert "WWW-Authenticate" in response.headers
    before = snapshot()
    response = browser.client.post("/api/v1/structures", json=STRUCTURE)
    assert_error(response, 401, "unauthorized")
    response = browser.client.patch(
        f"/api/v1/users/{people.professional.id}", json={"platform_admin": True}
    )
    assert_error(response, 401, "unauthorized")
    assert snapshot() == before


# --- structures ------------------------------------------------------------------------------


def test_create_structure(apis):
    before = Structure.objects.count()
    payload = {
        **STRUCTURE,
        "finess": "590000001",
        "siret": "12345678901234",
        "address": "1 rue de la Gare, 59000 Lille",
        "department": "59",
        "phone": "+33 3 20 00 00 00",
        "email": "contact@ssiad-nord.fr",
    }
    response = apis.platform_admin.post("/structures", json=payload)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    stored = Structure.objects.get(key="ssiad-nord")
    assert body == {"id": str(stored.id), **payload, "active": True}
    assert Structure.objects.count() == before + 1
    assert stored.name == "SSIAD Nord"
    assert stored.kind == "ssiad"
    assert stored.sector == "medico_social"
    assert stored.finess == "590000001"
    assert stored.active is True


def test_create_structure_minimal_and_trimmed(apis):
    response = apis.platform_admin.post(
        "/structures", json={**STRUCTURE, "name": "  SSIAD Nord  ", "email": ""}
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["name"] == "SSIAD Nord"
    assert body["email"] is None
    assert body["finess"] is None
    assert Structure.objects.get(key="ssiad-nord").email is None


def test_create_structure_accepts_json_with_charset(apis):
    response = apis.platform_admin.post(
        "/structures",
        data=json.dumps(STRUCTURE),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 201


def test_list_structures(apis, make_structure, structure, other_structure):
    closed = make_structure(key="fermee", name="Aaa fermée")
    update_structure(SYSTEM, closed, {"active": False})
    response = apis.platform_admin.get("/structures")
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert [s["key"] for s in items] == ["fermee", "autre", "dac-test"]  # by name
    assert [s["active"] for s in items] == [False, True, True]
    assert items[2] == {
        "id": str(structure.id),
        "key": "dac-test",
        "name": "DAC de test",
        "sector": "medico_social",
        "kind": "dac",
        "finess": None,
        "siret": None,
        "address": None,
        "department": None,
        "phone": None,
        "email": None,
        "active": True,
    }


@pytest.mark.parametrize(
    ("who", "key", "status"),
    [
        ("platform_admin", "dac-test", 200),
        ("platform_admin", "autre", 200),
        ("structure_admin", "dac-test", 200),
        ("coordinator", "dac-test", 200),
        ("professional", "dac-test", 200),
        ("professional", "autre", 403),
        ("other_admin", "dac-test", 403),
        ("loner", "dac-test", 403),
    ],
)
def test_get_structure(apis, other_structure, who, key, status):
    response = getattr(apis, who).get(f"/structures/{key}")
    if status == 200:
        assert response.status_code == 200
        assert response.get_json()["key"] == key
    else:
        assert_error(response, 403, "forbidden", FORBIDDEN)


def test_get_unknown_structure(apis):
    assert_error(apis.platform_admin.get("/structures/nope"), 404, "not_found", NO_STRUCTURE)


def test_update_structure(apis, structure):
    api = apis.platform_admin
    seq = last_seq()
    response = api.patch(
        "/structures/dac-test", json={"name": "DAC du Nord", "department": "59", "phone": ""}
    )
    assert response.status_code == 200
    assert response.get_json()["name"] == "DAC du Nord"
    structure.reload()
    assert structure.name == "DAC du Nord"
    assert structure.department == "59"
    assert structure.phone is None  # emptied
    assert structure.key == "dac-test"
    assert structure.active is True
    [event] = new_events(seq)
    assert event.action == "structure.update"
    assert event.details["fields"] == ["department", "name", "phone"]


def test_deactivate_structure(apis, structure):
    assert apis.professional.get("/structures/dac-test").status_code == 200
    assert apis.structure_admin.get("/structures/dac-test/members").status_code == 200
    response = apis.platform_admin.patch("/structures/dac-test", json={"active": False})
    assert response.status_code == 200
    assert response.get_json()["active"] is False
    structure.reload()
    assert structure.active is False
    assert AuditEvent.objects.order_by("-seq").first().action == "structure.deactivate"
    # Its members lose their roles in it.
    assert_error(apis.professional.get("/structures/dac-test"), 403, "forbidden")
    refused(apis.structure_admin, "GET", "/structures/dac-test/members", 403, "forbidden")
    refused(
        apis.structure_admin,
        "POST",
        "/structures/dac-test/members",
        403,
        "forbidden",
        json={"email": "loner@example.org", "roles": ["professional"]},
    )
    # Reactivation gives them back.
    response = apis.platform_admin.patch("/structures/dac-test", json={"active": True})
    assert response.get_json()["active"] is True
    assert AuditEvent.objects.order_by("-seq").first().action == "structure.reactivate"
    assert apis.professional.get("/structures/dac-test").status_code == 200


def test_update_unknown_structure(apis):
    refused(
        apis.platform_admin,
        "PATCH",
        "/structures/nope",
        404,
        "not_found",
        json={"name": "x"},
        message=NO_STRUCTURE,
    )


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"key": "nouvelle-cle"}, {"/key": UNEXPECTED}),
        ({"name": ""}, {"/name": REQUIRED}),
        ({"name": "   "}, {"/name": REQUIRED}),
        ({"sector": "hopital"}, {"/sector": NOT_IN_LIST}),
        ({"active": "non"}, {"/active": "La valeur doit être vrai ou faux."}),
        ({"active": None}, {"/active": "La valeur doit être vrai ou faux."}),
        ({"department": "1234"}, {"/department": BAD_FORMAT}),
        ({"name": "x" * 201}, {"/name": "Saisissez au plus 200 caractères."}),
    ],
)
def test_update_structure_invalid(apis, structure, body, fields):
    refused(
        apis.platform_admin, "PATCH", "/structures/dac-test", 422, "invalid", json=body,
        fields=fields, message=INVALID,
    )  # fmt: skip


def test_update_structure_empty_body(apis, structure):
    error = refused(apis.platform_admin, "PATCH", "/structures/dac-test", 422, "invalid", json={})
    assert error["fields"]


FORBIDDEN_STRUCTURE_REQUESTS = [
    ("POST", "/structures", STRUCTURE),
    ("POST", "/structures", {}),  # refused for the right, before the body is looked at
    ("POST", "/structures", {**STRUCTURE, "key": "dac-test"}),
    ("GET", "/structures", None),
    ("PATCH", "/structures/dac-test", {"name": "Piraté"}),
    ("PATCH", "/structures/dac-test", {"active": False}),
    ("PATCH", "/structures/dac-test", {"key": "x"}),
    ("PATCH", "/structures/autre", {"name": "Piraté"}),
]


@pytest.mark.parametrize("who", ["structure_admin", "coordinator", "professional", "loner"])
def test_structure_administration_is_for_the_platform_admin(apis, people, who):
    people.all()
    api = getattr(apis, who)
    for method, path, body in FORBIDDEN_STRUCTURE_REQUESTS:
        kwargs = {"json": body} if body is not None else {}
        refused(api, method, path, 403, "forbidden", message=FORBIDDEN, **kwargs)


@pytest.mark.parametrize("who", ["structure_admin", "professional"])
def test_forbidden_before_body_checks(apis, who):
    """Without the right, the answer is 403 whatever the body: nothing is learnt from it."""
    api = getattr(apis, who)
    for path in ("/structures", "/users"):
        refused(api, "POST", path, 403, "forbidden", data="{", content_type="application/json")
        refused(api, "POST", path, 403, "forbidden", data="x", content_type="text/plain")
        refused(api, "POST", path, 403, "forbidden", json={"foo": 1})


def test_duplicate_structure_key(apis, structure):
    refused(
        apis.platform_admin,
        "POST",
        "/structures",
        409,
        "conflict",
        json={**STRUCTURE, "key": "dac-test"},
        message=DUPLICATE_KEY,
        fields={"/key": DUPLICATE_KEY},
    )


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"name": None}, {"/name": "La valeur doit être un texte."}),
        ({"name": ""}, {"/name": REQUIRED}),
        ({"name": "\t \n"}, {"/name": REQUIRED}),
        ({"name": 42}, {"/name": "La valeur doit être un texte."}),
        ({"name": ["SSIAD"]}, {"/name": "La valeur doit être un texte."}),
        ({"sector": "sante"}, {"/sector": NOT_IN_LIST}),
        ({"sector": "Sanitaire"}, {"/sector": NOT_IN_LIST}),
        ({"kind": "zoo"}, {"/kind": NOT_IN_LIST}),
        ({"foo": "bar"}, {"/foo": UNEXPECTED}),
        ({"a/b": 1}, {"/a~1b": UNEXPECTED}),
        ({"m~n": 1}, {"/m~0n": UNEXPECTED}),
        ({"$where": "1"}, {"/$where": UNEXPECTED}),
        ({"id": "0" * 24}, {"/id": UNEXPECTED}),
        ({"active": "true"}, {"/active": "La valeur doit être vrai ou faux."}),
        ({"key": "SSIAD-Nord"}, {"/key": BAD_FORMAT}),
        ({"key": "ssiad/nord"}, {"/key": BAD_FORMAT}),
        ({"key": "ssiad nord"}, {"/key": BAD_FORMAT}),
        ({"key": "-ssiad"}, {"/key": BAD_FORMAT}),
        ({"key": "ssiad.nord"}, {"/key": BAD_FORMAT}),
        ({"key": "../etc"}, {"/key": BAD_FORMAT}),
        ({"key": "ssiad\u00e9"}, {"/key": BAD_FORMAT}),
        ({"key": "s"}, {"/key": "Saisissez au moins 2 caractères."}),
        ({"key": "s" * 65}, {"/key": "Saisissez au plus 64 caractères."}),
        ({"key": 12}, {"/key": "La valeur doit être un texte."}),
        ({"finess": "ABC"}, {"/finess": BAD_FORMAT}),
        ({"siret": "123"}, {"/siret": BAD_FORMAT}),
        ({"department": "Nord"}, {"/department": BAD_FORMAT}),
        ({"phone": "<script>"}, {"/phone": BAD_FORMAT}),
        ({"address": "a" * 301}, {"/address": "Saisissez au plus 300 caractères."}),
        (
            {"name": None, "sector": "x", "extra": 1},
            {
                "/name": "La valeur doit être un texte.",
                "/sector": NOT_IN_LIST,
                "/extra": UNEXPECTED,
            },
        ),
    ],
)
def test_create_structure_invalid(apis, change, fields):
    refused(
        apis.platform_admin, "POST", "/structures", 422, "invalid",
        json={**STRUCTURE, **change}, fields=fields, message=INVALID,
    )  # fmt: skip


@pytest.mark.parametrize("missing", ["key", "name", "sector", "kind"])
def test_create_structure_missing_field(apis, missing):
    body = {k: v for k, v in STRUCTURE.items() if k != missing}
    refused(
        apis.platform_admin, "POST", "/structures", 422, "invalid", json=body,
        fields={f"/{missing}": REQUIRED},
    )  # fmt: skip


def test_create_structure_bad_email_is_refused(apis):
    error = refused(
        apis.platform_admin, "POST", "/structures", 422, "invalid",
        json={**STRUCTURE, "email": "pas-une-adresse"},
    )  # fmt: skip
    assert set(error["fields"]) == {"/email"}


# Not text: validation refuses them at /email (they crashed, or `{}` and `[]` became "").
NOT_TEXT = [None, [None], 1.5, True, 0, {}, [], {"$ne": ""}]


@pytest.mark.parametrize("email", NOT_TEXT)
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/structures", STRUCTURE),
        ("PATCH", "/structures/dac-test", {}),
        ("POST", "/users", new_user()),
        ("PATCH", "/users/{professional}", {}),
        ("POST", "/structures/dac-test/members", {**new_user(), "roles": ["professional"]}),
    ],
)
def test_an_email_that_is_not_text_is_refused(apis, people, method, path, body, email):
    error = refused(
        apis.platform_admin, method, fill(path, people), 422, "invalid",
        json={**body, "email": email},
    )  # fmt: skip
    assert set(error["fields"]) == {"/email"}


# --- users -----------------------------------------------------------------------------------


def test_create_user_then_log_in(apis, web, structure, other_structure):
    api = apis.platform_admin
    seq = last_seq()
    payload = new_user(
        email="Nouveau@Example.org",
        phone="06 12 34 56 78",
        memberships=[
            {"structure": "dac-test", "roles": ["coordinator", "professional"]},
            {"structure": "autre", "roles": ["structure_admin"]},
        ],
    )
    response = api.post("/users", json=payload)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    user = User.objects.get(email="nouveau@example.org")  # stored lower-case
    assert body == {"id": str(user.id)}
    assert user.name == "Nouvelle Personne"
    assert user.profession == "10"
    assert user.status == "active"
    assert user.platform_admin is False
    assert user.password_hash
    assert "un-mot-de-passe-long" not in user.password_hash
    assert [(m.structure, m.roles) for m in user.memberships] == [
        (structure.id, ["coordinator", "professional"]),
        (other_structure.id, ["structure_admin"]),
    ]
    [event] = new_events(seq)
    assert event.action == "user.create"
    assert event.object_id == str(user.id)
    assert "un-mot-de-passe-long" not in json.dumps(event.details)
    # The account works on the web, with the e-mail in any case.
    response = web.login("NOUVEAU@example.org", "un-mot-de-passe-long")
    assert response.status_code == 302
    assert "Bonjour Nouvelle Personne" in web.get("/").get_data(as_text=True)


def test_create_user_minimal(apis):
    response = apis.platform_admin.post(
        "/users",
        json={"email": "min@example.org", "name": "Min", "password": "mot-de-passe-initial"},
    )
    assert response.status_code == 201
    user = User.objects.get(id=response.get_json()["id"])
    assert user.memberships == []
    assert user.profession is None
    body = apis.platform_admin.get(f"/users/{user.id}").get_json()
    assert body["profession"] is None
    assert body["memberships"] == []


def test_create_platform_admin(apis, api_as):
    response = apis.platform_admin.post("/users", json=new_user(platform_admin=True))
    user = User.objects.get(id=response.get_json()["id"])
    assert user.platform_admin is True
    assert api_as(user).get("/structures").status_code == 200


@pytest.mark.parametrize("email", ["pro@example.org", "Pro@Example.org", "PRO@EXAMPLE.ORG"])
def test_create_user_duplicate_email(apis, professional, email):
    refused(
        apis.platform_admin,
        "POST",
        "/users",
        409,
        "conflict",
        json=new_user(email=email),
        message=DUPLICATE_EMAIL,
        fields={"/email": DUPLICATE_EMAIL},
    )


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"password": "court"}, {"/password": "Saisissez au moins 12 caractères."}),
        ({"password": "123456789"}, {"/password": "Saisissez au moins 12 caractères."}),
        ({"password": "x" * 201}, {"/password": "Saisissez au plus 200 caractères."}),
        ({"password": 1234567890}, {"/password": "La valeur doit être un texte."}),
        ({"email": "pas-une-adresse"}, {"/email": BAD_EMAIL}),
        ({"email": "a@b"}, {"/email": BAD_EMAIL}),
        ({"email": "a b@example.org"}, {"/email": BAD_EMAIL}),
        ({"email": "x" * 250 + "@example.org"}, {"/email": "Saisissez au plus 254 caractères."}),
        ({"name": ""}, {"/name": REQUIRED}),
        ({"name": "  "}, {"/name": REQUIRED}),
        ({"profession": "99"}, {"/profession": NOT_IN_LIST}),
        ({"profession": "Médecin"}, {"/profession": NOT_IN_LIST}),
        ({"status": "admin"}, {"/status": NOT_IN_LIST}),
        ({"platform_admin": "yes"}, {"/platform_admin": "La valeur doit être vrai ou faux."}),
        ({"phone": "abc"}, {"/phone": BAD_FORMAT}),
        ({"role": "admin"}, {"/role": UNEXPECTED}),
        ({"password_hash": "x"}, {"/password_hash": UNEXPECTED}),
        ({"memberships": {"dac-test": ["professional"]}}, {"/memberships": "La valeur doit être une liste."}),  # noqa: E501
        ({"memberships": [{"structure": "nope", "roles": ["professional"]}]}, {"/memberships/0/structure": NO_STRUCTURE}),  # noqa: E501
        (
            {"memberships": [
                {"structure": "dac-test", "roles": ["professional"]},
                {"structure": "inconnue", "roles": ["professional"]},
            ]},
            {"/memberships/1/structure": NO_STRUCTURE},
        ),
        (
            {"memberships": [
                {"structure": "dac-test", "roles": ["professional"]},
                {"structure": "dac-test", "roles": ["coordinator"]},
            ]},
            {"/memberships/1/structure": "Cette structure figure deux fois."},
        ),
        ({"memberships": [{"structure": "dac-test", "roles": []}]}, {"/memberships/0/roles": "Choisissez au moins un élément."}),  # noqa: E501
        ({"memberships": [{"structure": "dac-test", "roles": ["boss"]}]}, {"/memberships/0/roles/0": NOT_IN_LIST}),  # noqa: E501
        ({"memberships": [{"structure": "dac-test", "roles": ["professional", "professional"]}]}, {"/memberships/0/roles": "Chaque élément ne doit figurer qu'une fois."}),  # noqa: E501
        ({"memberships": [{"structure": "dac-test"}]}, {"/memberships/0/roles": REQUIRED}),
        ({"memberships": [{"structure": "dac-test", "roles": ["professional"], "x": 1}]}, {"/memberships/0/x": UNEXPECTED}),  # noqa: E501
    ],
)  # fmt: skip
def test_create_user_invalid(apis, structure, change, fields):
    refused(
        apis.platform_admin, "POST", "/users", 422, "invalid", json=new_user(**change),
        fields=fields, message=INVALID,
    )  # fmt: skip


@pytest.mark.parametrize("missing", ["email", "name", "password"])
def test_create_user_missing_field(apis, missing):
    body = {k: v for k, v in new_user().items() if k != missing}
    refused(
        apis.platform_admin, "POST", "/users", 422, "invalid", json=body,
        fields={f"/{missing}": REQUIRED},
    )  # fmt: skip


@pytest.fixture
def alphas(make_user):
    return [make_user(name=f"Alpha {n}", email=f"alpha{n}@exemple.fr") for n in range(1, 6)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=alpha", ["Alpha 1", "Alpha 2", "Alpha 3", "Alpha 4", "Alpha 5"]),
        ("q=ALPHA%203", ["Alpha 3"]),
        ("q=alpha3@exemple", ["Alpha 3"]),  # by e-mail
        ("q=exemple.fr&per_page=2", ["Alpha 1", "Alpha 2"]),
        ("q=alpha&per_page=2&page=2", ["Alpha 3", "Alpha 4"]),
        ("q=alpha&per_page=2&page=3", ["Alpha 5"]),
        ("q=alpha&per_page=2&page=4", []),
        ("q=%20%20alpha%205%20", ["Alpha 5"]),  # trimmed
        ("q=.*", []),  # not a regular expression
        ("q=alpha.", ["Alpha 1", "Alpha 2", "Alpha 3", "Alpha 4", "Alpha 5"]),  # words only
        ("q=(", []),
        ("q=[a-z]", []),
        ("q=%5C", []),
        ("q=" + "a" * 10_000, []),
        ("q=zzz", []),
    ],
)
def test_list_users_search_and_pages(apis, alphas, query, expected):
    response = apis.platform_admin.get(f"/users?{query}")
    assert response.status_code == 200
    assert [u["name"] for u in response.get_json()["items"]] == expected


def test_list_users_all_sorted(apis, people, alphas):
    people.all()
    body = apis.platform_admin.get("/users").get_json()
    names = [u["name"] for u in body["items"]]
    assert names == sorted(names)
    assert len(names) == 7 + 5
    assert body["page"] == 1
    assert body["per_page"] == 50
    pro = next(u for u in body["items"] if u["email"] == "pro@example.org")
    assert pro["memberships"] == [{"structure": "dac-test", "roles": ["professional"]}]


@pytest.mark.parametrize(
    ("query", "page", "per_page"),
    [
        ("page=abc", 1, 50),
        ("page=0", 1, 50),
        ("page=-3", 1, 50),
        ("per_page=1000", 1, 100),
        ("per_page=-1", 1, 1),
        ("per_page=x", 1, 50),
        ("page=2&per_page=3", 2, 3),
    ],
)
def test_list_users_page_arguments(apis, alphas, query, page, per_page):
    body = apis.platform_admin.get(f"/users?{query}").get_json()
    assert (body["page"], body["per_page"]) == (page, per_page)
    assert len(body["items"]) <= per_page


@pytest.mark.parametrize("page", ["99999999999999999999", "9223372036854775807", "1" + "0" * 400])
def test_list_users_enormous_page_is_not_an_error(apis, alphas, page):
    response = apis.platform_admin.get(f"/users?page={page}")
    assert response.status_code in {200, 422}, response.get_data(as_text=True)[:300]
    if response.status_code == 200:
        assert response.get_json()["items"] == []
    else:
        assert_error(response, 422, "invalid")


def test_get_user(apis, people):
    response = apis.platform_admin.get(f"/users/{people.coordinator.id}")
    assert response.status_code == 200
    assert response.get_json() == {
        "id": str(people.coordinator.id),
        "email": "coord@example.org",
        "name": "Coordinatrice",
        "profession": "coordinateur",
        "profession_label": "Coordinateur de parcours",
        "phone": None,
        "status": "active",
        "platform_admin": False,
        "memberships": [{"structure": "dac-test", "roles": ["coordinator"]}],
    }


@pytest.mark.parametrize(
    "user_id",
    [
        "000000000000000000000000",
        "ffffffffffffffffffffffff",
        "not-an-id",
        "123",
        "zzzzzzzzzzzzzzzzzzzzzzzz",
        "%00",
        "x" * 10_000,
    ],
)
def test_unknown_user(apis, user_id):
    assert_error(apis.platform_admin.get(f"/users/{user_id}"), 404, "not_found", NO_ACCOUNT)
    refused(
        apis.platform_admin, "PATCH", f"/users/{user_id}", 404, "not_found",
        json={"name": "x"}, message=NO_ACCOUNT,
    )  # fmt: skip


def test_update_user(apis, people, other_structure):
    api, pro = apis.platform_admin, people.professional
    seq = last_seq()
    response = api.patch(
        f"/users/{pro.id}",
        json={
            "name": "Infirmière Renommée",
            "email": "Renommee@Example.org",
            "profession": "69",
            "reason": "Spécialité vérifiée",
            "memberships": [{"structure": "autre", "roles": ["coordinator"]}],
        },
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["name"] == "Infirmière Renommée"
    assert body["email"] == "renommee@example.org"
    assert body["memberships"] == [{"structure": "autre", "roles": ["coordinator"]}]
    pro.reload()
    assert pro.name == "Infirmière Renommée"
    assert pro.email == "renommee@example.org"
    assert pro.profession == "69"
    assert pro.roles_in(Structure.objects.get(key="autre").id) == {"coordinator"}
    [event] = new_events(seq)
    assert event.action == "user.update"
    assert event.details["fields"] == ["email", "memberships", "name", "profession"]
    assert event.details["profession"] == {"from": "60", "to": "69"}
    assert event.details["reason"] == "Spécialité vérifiée"


def test_update_user_password(apis, people, web):
    pro = people.professional
    response = apis.platform_admin.patch(f"/users/{pro.id}", json={"password": "nouveau-secret"})
    assert response.status_code == 200
    assert web.login(pro, PASSWORD).status_code == 401
    assert web.login(pro, "nouveau-secret").status_code == 302


# A passphrase of words that have nothing to do with each other, up to the 200 allowed.
LONG_PASSPHRASE = "gouttière-hibou-ravioli-sextant-" * 7


@pytest.mark.parametrize("length", [72, 73, 100, 200])
def test_long_passwords_are_judged_not_refused_with_500(apis, people, web, length):
    """zxcvbn refuses more than 72 characters: a longer password is judged on its first 72."""
    password = LONG_PASSPHRASE[:length]
    created = apis.platform_admin.post(
        "/users", json=new_user(email="long@example.org", password=password)
    )
    assert created.status_code == 201, created.get_data(as_text=True)[:300]
    assert web.login("long@example.org", password).status_code == 302
    changed = apis.platform_admin.patch(
        f"/users/{people.professional.id}", json={"password": password[::-1]}
    )
    assert changed.status_code == 200, changed.get_data(as_text=True)[:300]


def test_a_long_password_weak_at_its_start_is_refused(apis):
    weak = "a" * 72 + LONG_PASSPHRASE[:100]
    refused(
        apis.platform_admin, "POST", "/users", 422, "invalid",
        json=new_user(email="long@example.org", password=weak),
        fields={"/password": "Ce mot de passe est trop courant ou trop facile à deviner : "
                "allongez-le, par exemple avec plusieurs mots qui n'ont rien à voir entre eux."},
    )  # fmt: skip


def test_suspend_user_ends_their_api_access(apis, people):
    assert apis.professional.get("/me").status_code == 200
    response = apis.platform_admin.patch(
        f"/users/{people.professional.id}", json={"status": "suspended"}
    )
    assert response.status_code == 200
    assert response.get_json()["status"] == "suspended"
    assert_error(apis.professional.get("/me"), 401, "unauthorized")


@pytest.mark.parametrize("change", [{"status": "suspended"}, {"platform_admin": False}])
def test_platform_admin_cannot_demote_themselves(apis, people, change):
    refused(
        apis.platform_admin, "PATCH", f"/users/{people.platform_admin.id}", 422, "invalid",
        json=change,
    )  # fmt: skip


@pytest.mark.parametrize("email", ["coord@example.org", "Coord@Example.ORG"])
def test_update_user_duplicate_email(apis, people, email):
    people.all()
    refused(
        apis.platform_admin, "PATCH", f"/users/{people.professional.id}", 409, "conflict",
        json={"email": email}, message=DUPLICATE_EMAIL, fields={"/email": DUPLICATE_EMAIL},
    )  # fmt: skip


def test_update_user_to_own_email_in_other_case(apis, people):
    response = apis.platform_admin.patch(
        f"/users/{people.professional.id}", json={"email": "PRO@example.org"}
    )
    assert response.status_code == 200
    assert response.get_json()["email"] == "pro@example.org"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"password": "court"}, {"/password": "Saisissez au moins 12 caractères."}),
        ({"status": "banni"}, {"/status": NOT_IN_LIST}),
        ({"email": "x"}, {"/email": BAD_EMAIL}),
        ({"id": "x"}, {"/id": UNEXPECTED}),
        ({"memberships": [{"structure": "nope", "roles": ["professional"]}]}, {"/memberships/0/structure": NO_STRUCTURE}),  # noqa: E501
    ],
)  # fmt: skip
def test_update_user_invalid(apis, people, body, fields):
    refused(
        apis.platform_admin, "PATCH", f"/users/{people.professional.id}", 422, "invalid",
        json=body, fields=fields,
    )  # fmt: skip


def test_update_user_empty_body(apis, people):
    refused(
        apis.platform_admin, "PATCH", f"/users/{people.professional.id}", 422, "invalid", json={}
    )


@pytest.mark.parametrize(
    ("who", "target", "status"),
    [
        ("structure_admin", "professional", 200),  # a member of their structure
        ("structure_admin", "coordinator", 200),
        ("structure_admin", "structure_admin", 200),  # oneself
        ("structure_admin", "outsider", 403),
        ("structure_admin", "loner", 403),
        ("structure_admin", "platform_admin", 403),
        ("other_admin", "professional", 403),
        ("other_admin", "outsider", 200),
        ("professional", "professional", 200),
        ("professional", "coordinator", 403),
        ("coordinator", "professional", 403),
        ("loner", "professional", 403),
    ],
)
def test_who_sees_an_account(apis, people, who, target, status):
    response = getattr(apis, who).get(f"/users/{getattr(people, target).id}")
    if status == 200:
        assert response.status_code == 200
        assert response.get_json()["id"] == str(getattr(people, target).id)
    else:
        assert_error(response, 403, "forbidden", FORBIDDEN)


FORBIDDEN_USER_REQUESTS = [
    ("GET", "/users", None),
    ("GET", "/users?q=pro", None),
    ("POST", "/users", new_user()),
    ("POST", "/users", new_user(platform_admin=True)),
    ("POST", "/users", {"email": "x"}),
    ("PATCH", "/users/{professional}", {"name": "Piraté"}),
    ("PATCH", "/users/{professional}", {"status": "suspended"}),
    ("PATCH", "/users/{structure_admin}", {"platform_admin": True}),  # oneself, for the admin
    ("PATCH", "/users/{loner}", {"name": "Piraté"}),
]


@pytest.mark.parametrize("who", ["structure_admin", "coordinator", "professional", "loner"])
def test_account_administration_is_for_the_platform_admin(apis, people, who):
    people.all()
    api = getattr(apis, who)
    for method, path, body in FORBIDDEN_USER_REQUESTS:
        kwargs = {"json": body} if body is not None else {}
        refused(api, method, fill(path, people), 403, "forbidden", message=FORBIDDEN, **kwargs)


def test_professional_cannot_raise_themselves(apis, people):
    for body in ({"platform_admin": True}, {"memberships": []}, {"status": "active"}):
        refused(
            apis.professional, "PATCH", f"/users/{people.professional.id}", 403, "forbidden",
            json=body,
        )  # fmt: skip


# --- members ---------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["structure_admin", "platform_admin"])
def test_list_members(apis, people, who):
    people.all()
    response = getattr(apis, who).get("/structures/dac-test/members")
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert [u["email"] for u in items] == [
        "sadmin@example.org",  # Admin Structure
        "coord@example.org",  # Coordinatrice
        "pro@example.org",  # Infirmière Pro
    ]
    assert items[1]["memberships"] == [{"structure": "dac-test", "roles": ["coordinator"]}]


@pytest.mark.parametrize("who", ["structure_admin", "platform_admin"])
def test_add_existing_account_as_member(apis, people, who):
    api, loner = getattr(apis, who), people.loner
    seq = last_seq()
    response = api.post(
        "/structures/dac-test/members",
        json={"email": "Loner@Example.org", "roles": ["coordinator"]},  # any case
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["id"] == str(loner.id)
    assert body["memberships"] == [{"structure": "dac-test", "roles": ["coordinator"]}]
    loner.reload()
    assert loner.roles_in(Structure.objects.get(key="dac-test").id) == {"coordinator"}
    assert User.objects(email="loner@example.org").count() == 1
    [event] = new_events(seq)
    assert (event.action, event.object_id) == ("member.add", str(loner.id))
    assert event.details == {"structure": "dac-test", "roles": ["coordinator"]}
    assert event.origin.startswith("api")


def test_add_member_keeps_other_memberships(apis, people):
    assert people.outsider.memberships
    response = apis.structure_admin.post(
        "/structures/dac-test/members",
        json={"email": "outsider@example.org", "roles": ["professional"]},
    )
    assert response.status_code == 201
    # The structure admin sees their own structure only; the other membership is kept.
    assert response.get_json()["memberships"] == [
        {"structure": "dac-test", "roles": ["professional"]},
    ]
    assert len(User.objects.get(email="outsider@example.org").memberships) == 2


def test_add_member_creates_the_account(apis, web):
    api = apis.structure_admin
    seq = last_seq()
    response = api.post(
        "/structures/dac-test/members",
        json={
            "email": "Nouvelle@Example.org",
            "roles": ["professional"],
            "name": "Nouvelle Infirmière",
            "profession": "60",
            "password": "mot-de-passe-initial",
        },
    )
    assert response.status_code == 201, response.get_json()
    user = User.objects.get(email="nouvelle@example.org")
    assert response.get_json()["id"] == str(user.id)
    assert user.platform_admin is False
    assert [e.action for e in new_events(seq)] == ["user.create", "member.add"]
    assert user.status == "requested"  # verified by the platform team before first sign-in
    assert web.login("nouvelle@example.org", "mot-de-passe-initial").status_code == 401
    response = apis.platform_admin.patch(f"/users/{user.id}", json={"status": "active"})
    assert response.status_code == 200
    assert web.login("nouvelle@example.org", "mot-de-passe-initial").status_code == 302


def test_a_platform_admin_adds_an_active_account(apis):
    response = apis.platform_admin.post(
        "/structures/dac-test/members",
        json={
            "email": "active@example.org",
            "roles": ["coordinator"],
            "name": "Active",
            "password": "mot-de-passe-initial",
        },
    )
    assert response.status_code == 201
    assert User.objects.get(email="active@example.org").status == "active"


def test_a_structure_admin_sees_only_their_structure_of_a_member(
    apis, structure, other_structure, make_user
):
    member = make_user(structure, phone="0601020304")
    User.objects(id=member.id).update_one(
        push__memberships={"structure": other_structure.id, "roles": ["professional"]}
    )
    for response in (
        apis.structure_admin.get(f"/users/{member.id}"),
        apis.structure_admin.get("/structures/dac-test/members"),
    ):
        body = response.get_json()
        shown = (
            body if "id" in body else next(u for u in body["items"] if u["id"] == str(member.id))
        )
        assert shown["memberships"] == [{"structure": "dac-test", "roles": ["professional"]}]
        assert "phone" not in shown
        assert "platform_admin" not in shown
    full = apis.platform_admin.get(f"/users/{member.id}").get_json()
    assert len(full["memberships"]) == 2
    assert full["phone"] == "0601020304"


def test_add_member_without_account_needs_name_and_password(apis):
    error = refused(
        apis.structure_admin, "POST", "/structures/dac-test/members", 422, "invalid",
        json={"email": "inconnu@example.org", "roles": ["professional"]},
    )  # fmt: skip
    assert error["fields"] == {
        "/name": "Ce champ est obligatoire pour créer le compte.",
        "/password": "Ce champ est obligatoire pour créer le compte.",
    }


def test_add_member_twice(apis, professional):
    message = "Cette personne est déjà membre de la structure."
    refused(
        apis.structure_admin, "POST", "/structures/dac-test/members", 409, "conflict",
        json={"email": "PRO@example.org", "roles": ["coordinator"]},
        message=message, fields={"/email": message},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"email": "loner@example.org"}, {"/roles": REQUIRED}),
        ({"email": "loner@example.org", "roles": []}, {"/roles": "Choisissez au moins un élément."}),  # noqa: E501
        ({"email": "loner@example.org", "roles": ["platform_admin"]}, {"/roles/0": NOT_IN_LIST}),
        ({"email": "loner@example.org", "roles": ["professional"], "platform_admin": True}, {"/platform_admin": UNEXPECTED}),  # noqa: E501
        ({"email": "pas-une-adresse", "roles": ["professional"]}, {"/email": BAD_EMAIL}),
        ({"roles": ["professional"]}, {"/email": REQUIRED}),
        ({"email": "n@example.org", "roles": ["professional"], "name": "N", "password": "court"}, {"/password": "Saisissez au moins 12 caractères."}),  # noqa: E501
    ],
)  # fmt: skip
def test_add_member_invalid(apis, body, fields):
    refused(
        apis.structure_admin, "POST", "/structures/dac-test/members", 422, "invalid", json=body,
        fields=fields,
    )  # fmt: skip


def test_add_member_to_unknown_structure(apis):
    refused(
        apis.platform_admin, "POST", "/structures/nope/members", 404, "not_found",
        json={"email": "loner@example.org", "roles": ["professional"]}, message=NO_STRUCTURE,
    )  # fmt: skip


@pytest.mark.parametrize("who", ["structure_admin", "platform_admin"])
def test_change_member_roles(apis, people, structure, who):
    api, pro = getattr(apis, who), people.professional
    seq = last_seq()
    response = api.patch(
        f"/structures/dac-test/members/{pro.id}",
        json={"roles": ["coordinator", "structure_admin"]},
    )
    assert response.status_code == 200
    assert response.get_json()["memberships"] == [
        {"structure": "dac-test", "roles": ["coordinator", "structure_admin"]}
    ]
    pro.reload()
    assert pro.roles_in(structure.id) == {"coordinator", "structure_admin"}
    [event] = new_events(seq)
    assert event.action == "member.roles"
    assert event.origin.startswith("api")


def test_change_roles_of_multi_structure_member_touches_only_this_one(
    apis, people, other_structure
):
    people.all()
    response = apis.platform_admin.post(
        "/structures/autre/members", json={"email": "pro@example.org", "roles": ["professional"]}
    )
    assert response.status_code == 201
    response = apis.structure_admin.patch(
        f"/structures/dac-test/members/{people.professional.id}", json={"roles": ["coordinator"]}
    )
    assert response.get_json()["memberships"] == [
        {"structure": "dac-test", "roles": ["coordinator"]},
    ]
    full = apis.platform_admin.get(f"/users/{people.professional.id}").get_json()
    assert full["memberships"] == [
        {"structure": "dac-test", "roles": ["coordinator"]},
        {"structure": "autre", "roles": ["professional"]},
    ]


def test_no_role_left_removes_the_member(apis, people, structure):
    response = apis.structure_admin.patch(
        f"/structures/dac-test/members/{people.professional.id}", json={"roles": []}
    )
    assert response.status_code == 200
    assert response.get_json()["memberships"] == []
    people.professional.reload()
    assert people.professional.roles_in(structure.id) == set()
    assert AuditEvent.objects.order_by("-seq").first().action == "member.remove"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"/roles": REQUIRED}),
        ({"roles": "coordinator"}, {"/roles": "La valeur doit être une liste."}),
        ({"roles": ["chef"]}, {"/roles/0": NOT_IN_LIST}),
        ({"roles": ["coordinator"], "email": "x@example.org"}, {"/email": UNEXPECTED}),
    ],
)
def test_change_member_roles_invalid(apis, people, body, fields):
    refused(
        apis.structure_admin, "PATCH", f"/structures/dac-test/members/{people.professional.id}",
        422, "invalid", json=body, fields=fields,
    )  # fmt: skip


@pytest.mark.parametrize("who", ["structure_admin", "platform_admin"])
def test_remove_member(apis, people, structure, who):
    api, coordinator = getattr(apis, who), people.coordinator
    seq = last_seq()
    response = api.delete(f"/structures/dac-test/members/{coordinator.id}")
    assert response.status_code == 204
    assert response.get_data() == b""
    coordinator.reload()
    assert coordinator.memberships == []
    [event] = new_events(seq)
    assert (event.action, event.object_id) == ("member.remove", str(coordinator.id))
    # Gone from the list, and no longer found as a member.
    members = api.get("/structures/dac-test/members").get_json()["items"]
    assert "coord@example.org" not in [u["email"] for u in members]
    refused(
        api, "DELETE", f"/structures/dac-test/members/{coordinator.id}", 404, "not_found",
        message=NO_MEMBER,
    )  # fmt: skip


@pytest.mark.parametrize("target", ["outsider", "loner", "platform_admin"])
@pytest.mark.parametrize(
    ("method", "body"), [("PATCH", {"roles": ["professional"]}), ("DELETE", None)]
)  # noqa: E501
def test_member_routes_on_a_non_member(apis, people, target, method, body):
    kwargs = {"json": body} if body is not None else {}
    refused(
        apis.structure_admin, method, f"/structures/dac-test/members/{getattr(people, target).id}",
        404, "not_found", message=NO_MEMBER, **kwargs,
    )  # fmt: skip


@pytest.mark.parametrize("user_id", ["not-an-id", "000000000000000000000000", "%24ne"])
def test_member_routes_with_bad_ids(apis, user_id):
    for method, kwargs in (("PATCH", {"json": {"roles": []}}), ("DELETE", {})):
        refused(
            apis.structure_admin, method, f"/structures/dac-test/members/{user_id}", 404,
            "not_found", **kwargs,
        )  # fmt: skip


FORBIDDEN_MEMBER_REQUESTS = [
    ("GET", "/structures/dac-test/members", None),
    ("POST", "/structures/dac-test/members", {"email": "loner@example.org", "roles": ["structure_admin"]}),  # noqa: E501
    ("POST", "/structures/dac-test/members", {"email": "oadmin@example.org", "roles": ["structure_admin"]}),  # noqa: E501
    ("POST", "/structures/dac-test/members", {"email": "new@example.org", "roles": ["professional"], "name": "N", "password": "mot-de-passe-initial"}),  # noqa: E501
    ("PATCH", "/structures/dac-test/members/{professional}", {"roles": ["structure_admin"]}),
    ("PATCH", "/structures/dac-test/members/{professional}", {"roles": []}),
    ("DELETE", "/structures/dac-test/members/{professional}", None),
    ("DELETE", "/structures/dac-test/members/{structure_admin}", None),
]  # fmt: skip


@pytest.mark.parametrize("who", ["other_admin", "coordinator", "professional", "loner"])
def test_member_routes_forbidden(apis, people, who):
    people.all()
    api = getattr(apis, who)
    for method, path, body in FORBIDDEN_MEMBER_REQUESTS:
        kwargs = {"json": body} if body is not None else {}
        refused(api, method, fill(path, people), 403, "forbidden", message=FORBIDDEN, **kwargs)


def test_structure_admin_manages_only_their_structure(apis, people):
    people.all()
    """The admin of `dac-test` cannot act on `autre`, even on a member they share."""
    response = apis.platform_admin.post(
        "/structures/autre/members", json={"email": "pro@example.org", "roles": ["professional"]}
    )
    assert response.status_code == 201
    api = apis.structure_admin
    refused(api, "GET", "/structures/autre/members", 403, "forbidden")
    refused(
        api, "PATCH", f"/structures/autre/members/{people.professional.id}", 403, "forbidden",
        json={"roles": ["structure_admin"]},
    )  # fmt: skip
    refused(api, "DELETE", f"/structures/autre/members/{people.outsider.id}", 403, "forbidden")
    refused(
        api, "POST", "/structures/autre/members", 403, "forbidden",
        json={"email": "sadmin@example.org", "roles": ["structure_admin"]},
    )  # fmt: skip


# --- bad input everywhere --------------------------------------------------------------------

BODY_ROUTES = [
    ("POST", "/structures"),
    ("PATCH", "/structures/dac-test"),
    ("POST", "/users"),
    ("PATCH", "/users/{professional}"),
    ("POST", "/structures/dac-test/members"),
    ("PATCH", "/structures/dac-test/members/{professional}"),
]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(b"{", NOT_JSON, id="truncated"),
        pytest.param(b"", NOT_JSON, id="empty"),
        pytest.param(b"{'name': 'x'}", NOT_JSON, id="single-quotes"),
        pytest.param(b'{"name": "x",}', NOT_JSON, id="trailing-comma"),
        pytest.param(b"nul", NOT_JSON, id="bare-word"),
        pytest.param(b"\xff\xfe\x00", NOT_JSON, id="not-utf8"),
        pytest.param(b'{"name": "x"} {}', NOT_JSON, id="two-documents"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, None, id="deep-nesting"),
        pytest.param(b'{"a":' * 50_000 + b"1" + b"}" * 50_000, None, id="deep-objects"),
        pytest.param(b'[{"name": "x"}]', NOT_OBJECT, id="array"),
        pytest.param(b"[]", NOT_OBJECT, id="empty-array"),
        pytest.param(b"null", NOT_OBJECT, id="null"),
        pytest.param(b'"texte"', NOT_OBJECT, id="string"),
        pytest.param(b"42", NOT_OBJECT, id="number"),
        pytest.param(b"true", NOT_OBJECT, id="boolean"),
    ],
)
def test_malformed_json(apis, people, raw, message):
    api = apis.platform_admin
    for method, path in BODY_ROUTES:
        refused(
            api, method, fill(path, people), 400, "malformed_json", message=message, data=raw,
            content_type="application/json",
        )  # fmt: skip


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/json-patch+json",
        None,
    ],
)
def test_wrong_content_type(apis, people, content_type):
    api = apis.platform_admin
    headers = {"Content-Type": content_type} if content_type else {}
    for method, path in BODY_ROUTES:
        refused(
            api, method, fill(path, people), 415, "unsupported_media_type", message=WRONG_TYPE,
            data=json.dumps(STRUCTURE), headers=headers,
        )  # fmt: skip


def test_form_encoded_body_is_refused(apis):
    refused(
        apis.platform_admin, "POST", "/structures", 415, "unsupported_media_type", data=STRUCTURE
    )


def test_body_over_one_mebibyte(apis, people):
    api = apis.platform_admin
    body = json.dumps({"name": "x" * (MIB + 10)})
    for method, path in BODY_ROUTES:
        refused(
            api, method, fill(path, people), 413, "payload_too_large", message=TOO_LARGE,
            data=body, content_type="application/json",
        )  # fmt: skip


def test_body_just_under_the_limit_is_read(apis):
    """A big but acceptable body reaches validation: 422 for the too long name, not 413."""
    body = json.dumps({**STRUCTURE, "name": "x" * (MIB - 200)})
    assert len(body) < MIB
    error = refused(
        apis.platform_admin, "POST", "/structures", 422, "invalid", data=body,
        content_type="application/json",
    )  # fmt: skip
    assert error["fields"] == {"/name": "Saisissez au plus 200 caractères."}


@pytest.mark.parametrize(
    "path", ["/nope", "/", "/structures/dac-test/nope", "/users/x/y", "/me/", "/v2/me"]
)
def test_unknown_api_path(apis, anonymous_api, path):
    assert_error(apis.platform_admin.get(path), 404, "not_found", NOT_FOUND)
    response = anonymous_api.get(path)
    assert response.status_code in {401, 404}
    assert_error(response, response.status_code, response.json["error"]["code"])


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/me", {"GET"}),
        ("POST", "/me", {"GET"}),
        ("PUT", "/structures", {"GET", "POST"}),
        ("DELETE", "/structures/dac-test", {"GET", "PATCH"}),
        ("PUT", "/users/{professional}", {"GET", "PATCH"}),
        ("GET", "/structures/dac-test/members/{professional}", {"PATCH", "DELETE"}),
    ],
)
def test_wrong_method(apis, people, method, path, allowed):
    api, path = apis.platform_admin, fill(path, people)
    before = snapshot()
    response = api.request(method, path, json={})
    assert_error(response, 405, "method_not_allowed", NO_METHOD)
    methods = {m.strip() for m in response.headers["Allow"].split(",")}
    assert allowed <= methods
    assert methods <= allowed | {"HEAD", "OPTIONS"}
    assert snapshot() == before


HOSTILE_TEXTS = [
    pytest.param('<script>alert("x")</script>', id="script"),
    pytest.param("<img src=x onerror=alert(1)>", id="html"),
    pytest.param("Robert'); DROP TABLE users;--", id="sql"),
    pytest.param('{"$ne": null}', id="operator-text"),
    pytest.param("{{ config }}", id="template"),
    pytest.param("Zoé Ñúñez 👩\u200d⚕️ 中文", id="unicode"),
    pytest.param("a\u202eb", id="bidi"),
]


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_hostile_text_is_stored_as_plain_text(apis, people, text):
    response = apis.platform_admin.post("/structures", json={**STRUCTURE, "name": text})
    assert response.status_code == 201
    assert response.mimetype == "application/json"
    assert response.get_json()["name"] == text
    assert Structure.objects.get(key="ssiad-nord").name == text
    assert apis.platform_admin.get("/structures/ssiad-nord").get_json()["name"] == text
    response = apis.platform_admin.patch(f"/users/{people.loner.id}", json={"name": text})
    assert response.status_code == 200
    assert response.get_json()["name"] == text
    people.loner.reload()
    assert people.loner.name == text


def test_hostile_text_is_escaped_on_the_web(apis, login_as, people):
    text = '<script>alert("x")</script>'
    apis.platform_admin.post("/structures", json={**STRUCTURE, "name": text})
    page = login_as(people.platform_admin).get("/structures/").get_data(as_text=True)
    assert "&lt;script&gt;" in page
    assert text not in page


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/structures", {**STRUCTURE, "name": "x" * 10_000}),
        ("POST", "/structures", {**STRUCTURE, "address": "x" * 10_000}),
        ("POST", "/structures", {**STRUCTURE, "key": "x" * 10_000}),
        ("PATCH", "/structures/dac-test", {"name": "x" * 10_000}),
        ("POST", "/users", new_user(name="x" * 10_000)),
        ("POST", "/users", new_user(email="x" * 10_000 + "@example.org")),
        ("POST", "/users", new_user(password="x" * 10_000)),
        ("POST", "/users", new_user(phone="0" * 10_000)),
        ("PATCH", "/users/{professional}", {"name": "x" * 10_000}),
        ("POST", "/structures/dac-test/members", {"email": "x" * 10_000, "roles": ["professional"]}),  # noqa: E501
        ("POST", "/users", new_user(memberships=[{"structure": "x" * 10_000, "roles": ["professional"]}])),  # noqa: E501
        ("POST", "/users", new_user(memberships=[{"structure": "dac-test", "roles": ["professional"]}] * 51)),  # noqa: E501
        ("POST", "/users", new_user(**{"x" * 10_000: 1})),
    ],
)  # fmt: skip
def test_very_long_values_are_refused(apis, people, method, path, body):
    error = refused(apis.platform_admin, method, fill(path, people), 422, "invalid", json=body)
    assert error["fields"]


def _structure(key):
    return lambda people: Structure.objects.get(key=key)


def _user(email=None, person=None):
    def load(people):
        if person:
            return User.objects.get(id=getattr(people, person).id)
        return User.objects.get(email=email)

    return load


NULL = "\x00"


@pytest.mark.parametrize(
    ("method", "path", "body", "stored", "field"),
    [
        ("POST", "/structures", {**STRUCTURE, "name": f"SSIAD{NULL}Nord"}, _structure("ssiad-nord"), "name"),  # noqa: E501
        ("POST", "/structures", {**STRUCTURE, "key": f"ssiad{NULL}nord"}, None, "key"),
        ("POST", "/structures", {**STRUCTURE, "address": f"1 rue{NULL}x"}, _structure("ssiad-nord"), "address"),  # noqa: E501
        ("PATCH", "/structures/dac-test", {"name": f"DAC{NULL}x"}, _structure("dac-test"), "name"),
        ("POST", "/users", new_user(name=f"Ana{NULL}Bob"), _user("nouveau@example.org"), "name"),
        ("POST", "/users", new_user(email=f"ana{NULL}@example.org"), _user(f"ana{NULL}@example.org"), "email"),  # noqa: E501
        ("POST", "/users", new_user(password=f"0123456789{NULL}"), None, None),
        ("PATCH", "/users/{professional}", {"name": f"Ana{NULL}Bob"}, _user(person="professional"), "name"),  # noqa: E501
        ("POST", "/structures/dac-test/members", {"email": f"n{NULL}@example.org", "roles": ["professional"], "name": "N", "password": "mot-de-passe-initial"}, _user(f"n{NULL}@example.org"), "email"),  # noqa: E501
    ],
)  # fmt: skip
def test_null_bytes_are_refused_or_kept_verbatim(apis, people, method, path, body, stored, field):
    """Never a 500: refused with a field error, or stored exactly as sent."""
    api, path = apis.platform_admin, fill(path, people)
    before = snapshot()
    response = api.request(method, path, json=body)
    assert response.status_code in {200, 201, 422}, response.get_data(as_text=True)[:300]
    if response.status_code == 422:
        assert_error(response, 422, "invalid")
        assert snapshot() == before
    elif stored is not None:
        assert getattr(stored(people), field) == body[field]


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'"\\ud800"', id="lone-high-surrogate"),
        pytest.param(b'"\\udfff x"', id="lone-low-surrogate"),
        pytest.param(b'"a\\u0000b"', id="escaped-null"),
    ],
)
@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("POST", "/structures", b'{"key": "ssiad-nord", "name": %s, "sector": "social", "kind": "ssiad"}'),  # noqa: E501
        ("PATCH", "/structures/dac-test", b'{"name": %s}'),
        ("POST", "/users", b'{"email": "s@example.org", "name": %s, "password": "mot-de-passe-initial"}'),  # noqa: E501
        ("PATCH", "/users/{professional}", b'{"name": %s}'),
        ("GET", "/users?q=%%ED%%A0%%80", None),
    ],
)  # fmt: skip
def test_escaped_oddities_never_cause_a_server_error(apis, people, raw, method, path, template):
    api, path = apis.platform_admin, fill(path, people)
    before = snapshot()
    kwargs = {}
    if template is not None:
        kwargs = {"data": template % raw, "content_type": "application/json"}
    response = api.request(method, path, **kwargs)
    assert response.status_code in {200, 201, 400, 422}, response.get_data(as_text=True)[:300]
    if response.status_code >= 400:
        assert_error(response, response.status_code, response.get_json()["error"]["code"])
        assert snapshot() == before


@pytest.mark.parametrize(
    "key", ["%00", "%24where", "a%2Fb", "..", "x" * 2000, "%ED%A0%80", "dac-test%00"]
)
def test_odd_structure_keys_in_the_path(apis, key):
    assert_error(apis.platform_admin.get(f"/structures/{key}"), 404, "not_found")
    refused(
        apis.platform_admin, "PATCH", f"/structures/{key}", 404, "not_found", json={"name": "x"}
    )


def test_no_error_is_html(apis, people):
    """Every error of the API is JSON, even those Flask raises itself."""
    responses = [
        apis.platform_admin.get("/nope"),
        apis.platform_admin.delete("/me"),
        apis.platform_admin.post("/structures", data="x", content_type="text/plain"),
        apis.professional.get("/structures"),
    ]
    for response in responses:
        assert response.mimetype == "application/json"
        assert "<html" not in response.get_data(as_text=True).lower()


# --- audit -----------------------------------------------------------------------------------

WRITES = [
    ("platform_admin", "POST", "/structures", STRUCTURE, ["structure.create"]),
    ("platform_admin", "PATCH", "/structures/dac-test", {"name": "DAC"}, ["structure.update"]),
    ("platform_admin", "PATCH", "/structures/dac-test", {"active": False}, ["structure.deactivate"]),  # noqa: E501
    ("platform_admin", "POST", "/users", new_user(), ["user.create"]),
    ("platform_admin", "PATCH", "/users/{professional}", {"name": "P"}, ["user.update"]),
    ("structure_admin", "POST", "/structures/dac-test/members", {"email": "loner@example.org", "roles": ["professional"]}, ["member.add"]),  # noqa: E501
    ("structure_admin", "POST", "/structures/dac-test/members", {"email": "n@example.org", "roles": ["professional"], "name": "N", "password": "mot-de-passe-initial"}, ["user.create", "member.add"]),  # noqa: E501
    ("structure_admin", "PATCH", "/structures/dac-test/members/{professional}", {"roles": ["coordinator"]}, ["member.roles"]),  # noqa: E501
    ("structure_admin", "DELETE", "/structures/dac-test/members/{professional}", None, ["member.remove"]),  # noqa: E501
]  # fmt: skip


@pytest.mark.parametrize(("who", "method", "path", "body", "actions"), WRITES)
def test_each_write_is_audited(apis, people, who, method, path, body, actions):
    people.all()
    api, path = getattr(apis, who), fill(path, people)
    seq = last_seq()
    kwargs = {"json": body} if body is not None else {}
    response = api.request(method, path, **kwargs)
    assert response.status_code in {200, 201, 204}, response.get_data(as_text=True)
    events = new_events(seq)
    assert [e.action for e in events] == actions
    actor = getattr(people, who)
    for event in events:
        assert event.origin.startswith("api")
        assert event.actor == str(actor.id)
        assert event.actor_label == actor.email
        assert event.object_id
    assert audit.verify() == (last_seq(), None)


READS = [
    ("GET", "/me"),
    ("GET", "/structures"),
    ("GET", "/structures/dac-test"),
    ("GET", "/structures/dac-test/members"),
    ("GET", "/users"),
    ("GET", "/users/{professional}"),
]


@pytest.mark.parametrize(("method", "path"), READS)
def test_reads_write_nothing(apis, people, method, path):
    api, path = apis.platform_admin, fill(path, people)
    api.get("/me")  # the token's first use is written (last_used_at), not later ones
    before = snapshot()
    assert api.request(method, path).status_code == 200
    assert snapshot() == before


def test_refused_requests_are_not_audited(apis, people, anonymous_api):
    apis.professional, apis.platform_admin  # noqa: B018 - tokens created before the count
    seq = last_seq()
    requests = [
        (anonymous_api, "POST", "/structures", {"json": STRUCTURE}),
        (apis.professional, "POST", "/structures", {"json": STRUCTURE}),
        (apis.professional, "PATCH", f"/users/{people.professional.id}", {"json": {"name": "x"}}),
        (apis.platform_admin, "POST", "/structures", {"json": {**STRUCTURE, "key": "dac-test"}}),
        (apis.platform_admin, "POST", "/users", {"json": new_user(password="court")}),
        (apis.platform_admin, "POST", "/users", {"data": "{", "content_type": "application/json"}),
    ]
    for api, method, path, kwargs in requests:
        assert api.request(method, path, **kwargs).status_code >= 400
    assert new_events(seq) == []


# --- OpenAPI ---------------------------------------------------------------------------------


@pytest.fixture
def document(anonymous_api):
    response = anonymous_api.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def test_openapi_is_public_even_with_a_bad_token(client):
    response = client.get("/api/v1/openapi.json", headers={"Authorization": "Bearer prc_faux"})
    assert response.status_code == 200


def test_openapi_header(document):
    assert document["openapi"].startswith("3.1")
    assert document["info"]["title"]
    assert document["info"]["version"]
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
    }
    assert document["security"] == [{"bearer": []}]
    assert document["servers"][0]["url"].startswith("http")


def _operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_openapi_lists_every_route(document, app):
    for rule, method, spec in ROUTES:
        path = "/api/v1" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)
        assert path in document["paths"], path
        operation = document["paths"][path].get(method)
        assert operation is not None, (method, path)
        assert operation["operationId"] == spec["operation_id"]
        assert str(spec["status"]) in operation["responses"]
        if spec["body"] is not None:
            types = spec["body_type"]
            for media_type in types if isinstance(types, tuple) else (types,):
                schema = operation["requestBody"]["content"][media_type]["schema"]
                assert schema == spec["body"]
    # And nothing the application serves under /api/v1 is missing from the document.
    served = set()
    for url_rule in app.url_map.iter_rules():
        if url_rule.endpoint.startswith("api.") and url_rule.endpoint != "api.openapi_document":
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", url_rule.rule)
            served |= {(path, m.lower()) for m in url_rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, method, _ in _operations(document)}
    assert served == documented


def test_every_value_a_query_parameter_lists_is_accepted(document, apis):
    """A value that the document lists for ?scope=, ?sort=… is one the route takes: the
    dossiers' and the tasks' lists each have their own."""
    tried = 0
    for path, method, operation in _operations(document):
        if method != "get" or "{" in path:
            continue
        for param in operation.get("parameters", ()):
            for value in param["schema"].get("enum", ()):
                query = {param["name"]: value}
                response = apis.coordinator.get(path.removeprefix("/api/v1"), query_string=query)
                assert response.status_code == 200, (path, query, response.get_json())
                tried += 1
    assert tried >= 10


# POST routes that only name an action on their object: no body.
BODYLESS_ACTIONS = {"claim", "release", "retry", "read", "read-all"}


def test_openapi_structure(document):
    operation_ids = []
    for path, method, operation in _operations(document):
        assert path.startswith("/api/v1/")
        assert "<" not in path
        assert method in {"get", "post", "put", "patch", "delete"}
        operation_ids.append(operation["operationId"])
        assert operation["summary"]
        responses = operation["responses"]
        assert "401" in responses
        assert "422" in responses
        assert "403" in responses
        assert any(code.startswith("2") for code in responses)
        for code, answer in responses.items():
            assert re.fullmatch(r"[1-5][0-9][0-9]", code)
            assert answer["description"]
            if code >= "400":
                schema = answer["content"]["application/json"]["schema"]
                assert schema == document["components"]["schemas"]["Error"]
        placeholders = set(re.findall(r"\{(\w+)\}", path))
        params = operation.get("parameters", [])
        declared = {p["name"] for p in params if p["in"] == "path"}
        assert placeholders == declared, (method, path)
        for param in params:
            assert param["in"] in {"path", "query"}
            if param["in"] == "path":
                assert param["required"] is True
            Draft202012Validator.check_schema(param["schema"])
        action = path.rsplit("/", 1)[-1] in BODYLESS_ACTIONS
        if method in {"post", "patch", "put"} and not action:
            body = operation["requestBody"]
            assert body["required"] is True
            for media_type, content in body["content"].items():
                schema = content["schema"]
                if media_type.endswith("xml"):  # a BPMN document
                    assert schema["type"] == "string"
                else:
                    assert schema["type"] == "object"
                    assert schema["properties"]
                Draft202012Validator.check_schema(schema)
        else:
            assert "requestBody" not in operation
        for answer in responses.values():
            for content in answer.get("content", {}).values():
                Draft202012Validator.check_schema(content["schema"])
    assert len(operation_ids) == len(set(operation_ids))
    json.dumps(document)  # plain JSON, no Python objects left


def _response_schema(document, method, path):
    operation = document["paths"][path][method]
    success = next(code for code in operation["responses"] if code.startswith("2"))
    return operation["responses"][success]["content"]["application/json"]["schema"]


def test_responses_match_the_document(document, apis, people):
    """What the API answers is what its document says."""
    people.all()
    api = apis.platform_admin
    calls = [
        ("get", "/api/v1/me", api.get("/me")),
        ("get", "/api/v1/structures", api.get("/structures")),
        ("post", "/api/v1/structures", api.post("/structures", json=STRUCTURE)),
        ("get", "/api/v1/structures/{key}", api.get("/structures/dac-test")),
        ("patch", "/api/v1/structures/{key}", api.patch("/structures/dac-test", json={"name": "D"})),  # noqa: E501
        ("get", "/api/v1/structures/{key}/members", api.get("/structures/dac-test/members")),
        ("post", "/api/v1/users", api.post("/users", json=new_user())),
        ("get", "/api/v1/users", api.get("/users")),
        ("get", "/api/v1/users/{user_id}", api.get(f"/users/{people.professional.id}")),
        ("patch", "/api/v1/users/{user_id}", api.patch(f"/users/{people.loner.id}", json={"name": "L"})),  # noqa: E501
        ("post", "/api/v1/structures/{key}/members", api.post("/structures/dac-test/members", json={"email": "loner@example.org", "roles": ["professional"]})),  # noqa: E501
        ("patch", "/api/v1/structures/{key}/members/{user_id}", api.patch(f"/structures/dac-test/members/{people.loner.id}", json={"roles": ["coordinator"]})),  # noqa: E501
    ]  # fmt: skip
    for method, path, response in calls:
        operation = document["paths"][path][method]
        assert str(response.status_code) in operation["responses"], (method, path)
        schema = _response_schema(document, method, path)
        errors = list(Draft202012Validator(schema).iter_errors(response.get_json()))
        assert errors == [], (method, path, errors[:1])
    error = apis.professional.get("/structures").get_json()
    assert (
        list(Draft202012Validator(document["components"]["schemas"]["Error"]).iter_errors(error))
        == []
    )  # noqa: E501


def test_the_rate_limited_routes_document_429_and_only_they(client):
    """The identity lookups have a per-account limit (429 beyond): the document says so for
    them, and for no other route."""
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    limited = sorted(
        f"{method.upper()} {path}"
        for path, operations in paths.items()
        for method, operation in operations.items()
        if "429" in operation["responses"]
    )
    assert limited == ["GET /api/v1/dossiers/search", "POST /api/v1/dossiers"]
