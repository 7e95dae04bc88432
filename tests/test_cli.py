"""The `parcours` command: in-process through the CLI runner, and as a real process."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pymongo
import pytest
from bson import ObjectId

from app.accounts.models import ApiToken, User
from app.cli import cli
from app.demo import DEMO_PASSWORD, DOSSIERS, STRUCTURES, USERS
from app.directory.models import Professional
from app.dossiers.models import Dossier, Entry, JoinRequest
from app.embedded import PORT_FILE, answers_ping, free_port
from app.formkit.models import Form
from app.pathways import tallies
from app.pathways.models import Pathway
from app.pathways.tallies import TaskTally
from app.shipped import forms_folder as shipped_forms
from app.shipped import workflows_folder as shipped_workflows
from app.structures.models import Structure

PARCOURS = str(Path(sys.executable).with_name("parcours"))


def invoke(runner, *args, **kwargs):
    return runner.invoke(cli, list(args), **kwargs)


def test_users_create_makes_an_active_member(runner, structure):
    result = invoke(
        runner,
        "users",
        "create",
        "Nouvelle@Example.org",
        "--password",
        "un-mot-de-passe",
        "--name",
        "Nouvelle Personne",
        "--profession",
        "60",
        "--structure",
        structure.key,
        "--role",
        "coordinator",
    )
    assert result.exit_code == 0, result.output
    user = User.objects.get(email="nouvelle@example.org")
    assert user.status == "active"
    assert user.roles_in(structure.id) == {"coordinator"}


def test_users_create_platform_admin(runner):
    result = invoke(
        runner,
        "users",
        "create",
        "root@example.org",
        "--password",
        "un-mot-de-passe",
        "--platform-admin",
    )
    assert result.exit_code == 0, result.output
    assert User.objects.get(email="root@example.org").platform_admin


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bad-email", "--password", "un-mot-de-passe"], "adresse e-mail valide"),
        (["a@example.org", "--password", "court"], "au moins 12 caractères"),
        (
            ["a@example.org", "--password", "un-mot-de-passe", "--structure", "nope"],
            "Cette structure n'existe pas",
        ),
        (
            ["a@example.org", "--password", "un-mot-de-passe", "--profession", "99999"],
            "Choisissez une valeur",
        ),
    ],
)
def test_users_create_refuses_bad_input(runner, args, message):
    result = invoke(runner, "users", "create", *args)
    assert result.exit_code == 1
    assert message in result.output
    assert User.objects.count() == 0


def test_users_create_refuses_a_duplicate(runner, professional):
    result = invoke(
        runner, "users", "create", professional.email.upper(), "--password", "un-mot-de-passe"
    )
    assert result.exit_code == 1
    assert "Un compte existe déjà" in result.output
    assert User.objects.count() == 1


def test_tokens_create_prints_a_working_token(runner, client, professional):
    result = invoke(runner, "tokens", "create", professional.email, "--name", "logiciel")
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert token.startswith("prc_")
    stored = ApiToken.objects.get(user=professional.id)
    assert token not in json.dumps(stored.to_mongo().to_dict(), default=str)
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json["email"] == professional.email


@pytest.mark.parametrize("command", [("install",), ("demo",), ("forms", "sync")])
def test_a_package_without_its_shipped_files_refuses_to_install(
    runner, monkeypatch, tmp_path, command
):
    """An install whose package lost forms/ or workflows/ stops with the reason: it never
    "succeeds" having loaded nothing."""
    (tmp_path / "forms").mkdir()  # empty; and no workflows/ at all
    monkeypatch.setattr("app.shipped.resources.files", lambda package: tmp_path)
    result = invoke(runner, *command)
    assert result.exit_code == 1
    assert "lacks its shipped" in result.output
    assert Form.objects.count() == 0
    assert Pathway.objects.count() == 0


def test_install_loads_every_shipped_form_and_pathway(runner):
    result = invoke(runner, "install")
    assert result.exit_code == 0, result.output
    forms = sorted(p.stem for p in shipped_forms().glob("*.json"))
    pathways = sorted(p.stem for p in shipped_workflows().glob("*.bpmn"))
    assert f"forms shipped: {len(forms)}; created: {', '.join(forms)};" in result.output
    assert f"pathways shipped: {len(pathways)}; deployed: {', '.join(pathways)}" in result.output
    assert sorted(Form.objects.scalar("key")) == forms
    assert sorted(Pathway.objects.scalar("key")) == pathways


def test_tokens_create_records_the_owners_acceptance_of_the_terms(runner, client, professional):
    """An account used only through the API (an integration) never sees the web's terms page:
    --accept-terms records its owner's acceptance of the current version with the token."""
    from app import policy
    from app.audit import AuditEvent
    from app.terms.models import TermsAcceptance
    from app.terms.services import publish

    publish(policy.SYSTEM, {"text": "Conditions d'utilisation, version 1."})
    plain = invoke(runner, "tokens", "create", professional.email).stdout.strip()
    refused = client.get("/api/v1/me", headers={"Authorization": f"Bearer {plain}"})
    assert (refused.status_code, refused.json["error"]["code"]) == (403, "terms_not_accepted")
    assert "--accept-terms" in refused.json["error"]["message"]
    bad = invoke(runner, "tokens", "create", professional.email, "--name", "", "--accept-terms")
    assert bad.exit_code == 1
    assert TermsAcceptance.objects.count() == 0  # every check before the first write
    result = invoke(runner, "tokens", "create", professional.email, "--accept-terms")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.startswith("prc_")
    assert "version 1 accepted" in result.stderr
    for used in (token, plain):
        response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {used}"})
        assert response.status_code == 200
    [accepted] = TermsAcceptance.objects(user=professional.id)
    assert accepted.version == 1
    [event] = AuditEvent.objects(action="terms.accept")
    assert event.actor == str(professional.id)
    again = invoke(runner, "tokens", "create", professional.email, "--accept-terms")
    assert again.exit_code == 0
    assert TermsAcceptance.objects.count() == 1


def test_tokens_create_for_unknown_user(runner):
    result = invoke(runner, "tokens", "create", "personne@example.org")
    assert result.exit_code == 1
    assert "No account" in result.output
    assert ApiToken.objects.count() == 0


def test_demo_is_idempotent(runner):
    first = invoke(runner, "demo")
    assert first.exit_code == 0, first.output
    forms = len(list(shipped_forms().glob("*.json")))
    created = len(STRUCTURES) + len(USERS) + forms + len(DOSSIERS) + 1  # + the CGU
    assert f"{created} documents created" in first.output
    second = invoke(runner, "demo")
    assert "(0 documents created)" in second.output
    assert Structure.objects.count() == len(STRUCTURES)
    assert User.objects.count() == len(USERS)
    sectors = {s.sector for s in Structure.objects}
    assert sectors == {"sanitaire", "social", "medico_social"}
    professions = {u.profession for u in User.objects(memberships__roles="professional")}
    assert len(professions) == 5
    statuses = sorted(d.status for d in Dossier.objects)
    assert statuses == ["active", "active", "consent_withdrawn"]
    assert Entry.objects(kind="form").count() == 1
    assert JoinRequest.objects(status="pending").count() == 1


def test_install_loads_what_ships_and_brings_older_data_up_to_date(runner):
    """`parcours install` after an upgrade: forms and pathways shipped, the directory entries
    stored before their search keys given them, the task tallies recounted; again: nothing."""
    # Stored by an older version: an entry without search keys, a tally counting 5 tasks
    # that are not there.
    Professional._get_collection().insert_many(
        [{"last_name": "ANCIEN", "first_name": f"Paul{n}", "profession": "60"} for n in range(3)]
    )
    ghost = SimpleNamespace(structure=ObjectId(), pathway="p", due_sort=datetime(2026, 1, 7))
    tallies.opened([ghost] * 5)
    first = invoke(runner, "install")
    assert first.exit_code == 0, first.output
    assert "deployed: demande_compte" in first.output
    assert "task tallies corrected: 1; directory entries reindexed: 3" in first.output
    assert {tuple(p.facets[:2]) for p in Professional.objects} == {("n:anc", "n:anci")}
    assert TaskTally.objects.get().open == 0
    assert Pathway.objects(key="demande_compte").count() == 1
    assert "terms of use: version 1 published" in first.output
    again = invoke(runner, "install")
    assert "terms of use: already published" in again.output
    assert "task tallies corrected: 0; directory entries reindexed: 0" in again.output


def test_demo_accounts_can_log_in_and_accept_the_cgu_first(runner, web):
    invoke(runner, "demo")
    assert web.login("dr.dupuis@parcours.test", DEMO_PASSWORD).status_code == 302
    assert "/cgu/accepter" in web.get("/").headers["Location"]


@pytest.mark.parametrize(
    "command",
    [[], ["run"], ["demo"], ["users", "create"], ["tokens", "create"], ["audit", "verify"]],
)
def test_every_command_explains_itself(runner, command):
    result = invoke(runner, *command, "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.output
    assert len(result.output.splitlines()) > 3


# --- the real command, as a user starts it -------------------------------------------------


def _get(url):
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
        return response.status, response.read().decode()


def _start(data_dir, port):
    env = {k: v for k, v in os.environ.items() if k not in {"MONGODB_URI", "SECRET_KEY"}}
    env["PARCOURS_DATA_DIR"] = str(data_dir)
    process = subprocess.Popen(
        [PARCOURS, "run", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    started = time.monotonic()
    while time.monotonic() - started < 60:
        try:
            if _get(f"http://127.0.0.1:{port}/healthz")[0] == 200:
                return process, time.monotonic() - started
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError(process.communicate()[0])


def _stop(process):
    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=30)[0]
    return output


def test_parcours_run_seeds_an_empty_database_and_keeps_data_across_restarts(tmp_path):
    port = free_port()
    process, _ = _start(tmp_path, port)
    try:
        status, page = _get(f"http://127.0.0.1:{port}/connexion")
        assert status == 200
        assert 'lang="fr"' in page
        db_port = json.loads((tmp_path / PORT_FILE).read_text())["port"]
        client = pymongo.MongoClient("127.0.0.1", db_port)
        assert client.parcours.users.count_documents({}) == len(USERS)
        client.parcours.users.update_one({"email": USERS[0][0]}, {"$set": {"name": "Modifié"}})
        client.close()
    finally:
        output = _stop(process)
    assert "creating the demo region" in output
    assert not answers_ping(db_port, timeout_ms=300)

    process, _ = _start(tmp_path, port)
    try:
        db_port = json.loads((tmp_path / PORT_FILE).read_text())["port"]
        client = pymongo.MongoClient("127.0.0.1", db_port)
        assert client.parcours.users.count_documents({}) == len(USERS)
        assert client.parcours.users.find_one({"email": USERS[0][0]})["name"] == "Modifié"
        client.close()
    finally:
        output = _stop(process)
    assert "creating the demo region" not in output
