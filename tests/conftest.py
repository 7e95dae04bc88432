"""Fixtures in layers: one database server per session, a fresh database and app per test."""

import re
import uuid

import pymongo
import pytest
from flask import g, request_started
from pymongo import monitoring

from app import create_app, policy
from app.accounts.services import create_token, create_user
from app.db import CommandCounter
from app.embedded import EmbeddedServer
from app.structures.services import create_structure

PASSWORD = "correct-horse-battery"

# Counts every MongoDB command of the test process (clients created after this line).
COMMANDS = CommandCounter()
monitoring.register(COMMANDS)


@pytest.fixture
def db_commands():
    """The command counter, reset: `db_commands.count` after a request is its round trips."""
    COMMANDS.reset()
    return COMMANDS


@pytest.fixture
def password():
    """The password of every account made by `make_user`."""
    return PASSWORD


@pytest.fixture(scope="session")
def db_server(tmp_path_factory):
    """ONE SecantusDB server for the whole test session, over real TCP."""
    folder = tmp_path_factory.mktemp("secantus")
    server = EmbeddedServer.start(folder / "db", folder / "secantus.log")
    yield server
    server.stop()


@pytest.fixture
def app_config(db_server, tmp_path):
    return {
        "TESTING": True,
        "MONGODB_URI": db_server.uri_for(f"t_{uuid.uuid4().hex[:16]}"),
        "SECRET_KEY": "test-secret-key",
        "PARCOURS_DATA_DIR": str(tmp_path / "data"),
        "PASSWORD_HASHING": "cheap",
        # Per-app counters; test_rate_limit_storage covers the shared MongoDB storage.
        "RATELIMIT_STORAGE_URI": "memory://",
        # The admins of most tests sign in with a password only; test_second_factor turns
        # the production rule on.
        "ADMIN_TOTP_REQUIRED": False,
    }


def _fresh_g(sender, **extra):
    g._get_current_object().__dict__.clear()


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    # The test's app context stays pushed for factories and services, and Flask reuses it for
    # every test-client request: give each request an empty `g` as in production, so that a
    # user or CSRF token cached by one request or client does not leak into the next.
    request_started.connect(_fresh_g, app)
    with app.app_context():
        yield app
    request_started.disconnect(_fresh_g, app)
    client = pymongo.MongoClient(app_config["MONGODB_URI"])
    client.drop_database(client.get_default_database().name)
    client.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# --- factories -------------------------------------------------------------------------------


@pytest.fixture
def make_structure(app):
    counter = iter(range(1, 10_000))

    def make(**fields):
        n = next(counter)
        data = {
            "key": f"structure-{n}",
            "name": f"Structure {n}",
            "sector": "sanitaire",
            "kind": "hopital",
            **fields,
        }
        return create_structure(policy.SYSTEM, data)

    return make


@pytest.fixture
def make_user(app):
    counter = iter(range(1, 10_000))

    def make(structure=None, roles=("professional",), **fields):
        n = next(counter)
        data = {
            "email": f"user{n}@example.org",
            "name": f"Utilisateur {n}",
            "password": PASSWORD,
            "profession": "60",
            **fields,
        }
        if structure is not None:
            data["memberships"] = [{"structure": structure.key, "roles": list(roles)}]
        return create_user(policy.SYSTEM, data)

    return make


@pytest.fixture
def structure(make_structure):
    return make_structure(key="dac-test", name="DAC de test", sector="medico_social", kind="dac")


@pytest.fixture
def other_structure(make_structure):
    return make_structure(key="autre", name="Autre structure")


@pytest.fixture
def platform_admin(make_user):
    return make_user(email="admin@example.org", name="Admin Plateforme", platform_admin=True)


@pytest.fixture
def structure_admin(make_user, structure):
    return make_user(
        structure,
        roles=["structure_admin"],
        email="sadmin@example.org",
        name="Admin Structure",
        profession="coordinateur",
    )


@pytest.fixture
def coordinator(make_user, structure):
    return make_user(
        structure,
        roles=["coordinator"],
        email="coord@example.org",
        name="Coordinatrice",
        profession="coordinateur",
    )


@pytest.fixture
def professional(make_user, structure):
    return make_user(structure, email="pro@example.org", name="Infirmière Pro")


# --- web and API helpers ---------------------------------------------------------------------

CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')


class Web:
    """The test client as a person uses it: pages, forms with their CSRF token, login."""

    def __init__(self, client):
        self.client = client
        self._token = None

    def csrf(self):
        if self._token is None:
            page = self.client.get("/connexion", follow_redirects=True).get_data(as_text=True)
            self._token = CSRF_RE.search(page).group(1)
        return self._token

    def get(self, url, **kwargs):
        return self.client.get(url, **kwargs)

    def post(self, url, data=None, csrf=True, **kwargs):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.csrf())
        return self.client.post(url, data=data, **kwargs)

    def login(self, user_or_email, password=PASSWORD):
        email = getattr(user_or_email, "email", user_or_email)
        response = self.post("/connexion", {"email": email, "password": password})
        if response.status_code == 302:
            self._token = None  # signing in starts a new session, with a new CSRF token
        return response

    def logout(self):
        response = self.post("/deconnexion")
        self._token = None
        return response


@pytest.fixture
def web(client):
    return Web(client)


@pytest.fixture
def login_as(app):
    """A fresh, logged-in Web for a user: login_as(user)."""

    def login(user):
        browser = Web(app.test_client())
        response = browser.login(user)
        assert response.status_code == 302, response.get_data(as_text=True)
        return browser

    return login


class Api:
    def __init__(self, client, token=None):
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def request(self, method, url, json=None, **kwargs):
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.open(
            f"/api/v1{url}", method=method, json=json, headers=headers, **kwargs
        )

    def get(self, url, **kwargs):
        return self.request("GET", url, **kwargs)

    def post(self, url, json=None, **kwargs):
        return self.request("POST", url, json=json, **kwargs)

    def patch(self, url, json=None, **kwargs):
        return self.request("PATCH", url, json=json, **kwargs)

    def delete(self, url, **kwargs):
        return self.request("DELETE", url, **kwargs)


@pytest.fixture
def api_as(app):
    """An API client with a new token of `user`: api_as(user)."""

    def make(user):
        _, token = create_token(policy.SYSTEM, user, {"name": "tests"})
        return Api(app.test_client(), token)

    return make


@pytest.fixture
def anonymous_api(client):
    return Api(client)
