"""The plugin contract (app/plugins.py): what a plugin registers works in the application
(an operator for service tasks, a notification channel, an export format, a sign-in button, a
blueprint, a worker job, a template hook), and a plugin that is missing or broken stops the
start-up with a message naming it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from dossier_helpers import new_dossier
from helpers import html
from sample_plugins import good
from test_pathway_worker import REMINDER

from app import create_app, policy
from app.cli import cli
from app.engine import runtime
from app.formkit.services import sync_directory
from app.pathways.services import InvalidBpmn, deploy, operators
from app.plugins import PluginError

PARCOURS = str(Path(sys.executable).with_name("parcours"))


@pytest.fixture
def app_config(app_config):
    return {**app_config, "PLUGINS": "sample_plugins.good"}


def test_a_plugin_brings_its_pages_buttons_and_operators(client, login_as, coordinator, structure):
    assert client.get("/extension-exemple/ping").json == {"pong": True}
    login = html(client.get("/connexion"))
    assert "Se connecter avec l&#39;exemple" in login
    assert 'href="/extension-exemple/ping' in login
    assert "sample_echo" in operators()
    dossier = new_dossier(coordinator, structure)
    page = html(login_as(coordinator).get(f"/dossiers/{dossier.id}"))
    assert f'<span id="hook-exemple">{coordinator.name}</span>' in page
    assert f'href="/dossiers/{dossier.id}/export/txt"' in page


def test_its_operator_is_offered_to_pathways_and_called(app):
    sync_directory(Path(app.root_path).parent / "forms")
    with_echo = REMINDER.replace(b'serviceTaskOperator id="notify"',
                                 b'serviceTaskOperator id="sample_echo"')  # fmt: skip
    assert b"sample_echo" in with_echo
    assert deploy(policy.SYSTEM, with_echo)[0].key == "suivi_gir"
    unknown = with_echo.replace(b"sample_echo", b"sample_unknown")
    with pytest.raises(InvalidBpmn) as refused:
        deploy(policy.SYSTEM, unknown)
    assert "Opérateur inconnu : « sample_unknown »" in str(refused.value.problems)
    assert runtime.connector_named("sample_echo") is good.echo


def test_its_channel_hears_every_notice(login_as, api_as, coordinator, structure, make_user):
    good.RECEIVED.clear()
    dossier = new_dossier(coordinator, structure)
    nurse = make_user(structure, profession="60")
    added = api_as(coordinator).post(
        f"/dossiers/{dossier.id}/members",
        json={"user": str(nurse.id), "care_role": "infirmier"},
    )
    assert added.status_code == 201, added.json
    assert (nurse.email, "circle_added") in good.RECEIVED


def test_its_export_format_holds_only_what_the_caller_may_see(
    login_as, api_as, coordinator, structure, make_user, other_structure
):
    dossier = new_dossier(coordinator, structure)
    nurse = make_user(other_structure, profession="60")
    coord = api_as(coordinator)
    coord.post(f"/dossiers/{dossier.id}/members",
               json={"user": str(nurse.id), "care_role": "infirmier"})  # fmt: skip
    for visibility, text in (("public", "Note pour tout le cercle."),
                             ("private", "Note privée du coordinateur.")):  # fmt: skip
        made = coord.post(f"/dossiers/{dossier.id}/entries",
                          json={"visibility": visibility, "note": text,
                                "category": "administratif"})  # fmt: skip
        assert made.status_code == 201, made.json
    mine = login_as(coordinator).get(f"/dossiers/{dossier.id}/export/txt")
    assert mine.status_code == 200
    assert mine.headers["Content-Disposition"].endswith('.txt"')
    assert "Note privée du coordinateur." in mine.get_data(as_text=True)
    theirs = api_as(nurse).get(f"/dossiers/{dossier.id}/export?format=txt")
    assert theirs.status_code == 200
    assert "Note pour tout le cercle." in theirs.get_data(as_text=True)
    assert "Note privée" not in theirs.get_data(as_text=True)
    stranger = make_user(other_structure, roles=["coordinator"])
    assert login_as(stranger).get(f"/dossiers/{dossier.id}/export/txt").status_code == 404
    assert api_as(stranger).get(f"/dossiers/{dossier.id}/export?format=txt").status_code == 404
    refused = coord.get(f"/dossiers/{dossier.id}/export?format=docx")
    assert refused.status_code == 422
    assert refused.json["error"]["fields"]["/format"] == (
        "Format d'export inconnu « docx » (disponibles : txt)."
    )


def test_its_worker_job_runs_with_the_worker(app, runner):
    good.JOB_RUNS.clear()
    done = runner.invoke(cli, ["worker", "--once"])
    assert done.exit_code == 0, done.output
    assert "good.sample_job: 1 chose faite" in done.output
    assert len(good.JOB_RUNS) == 1


BROKEN = [
    ("sample_plugins.nowhere", "Extension « sample_plugins.nowhere » introuvable"),
    ("sample_plugins.broken_import", "No module named 'a_module_that_does_not_exist'"),
    ("sample_plugins.no_plugin", "pas de classe Plugin"),
    ("sample_plugins.failing", "the MSSanté certificate is missing"),
    ("sample_plugins.bad_blueprint", "doit s'appeler « plugin_bad_blueprint », pas « whatever »"),
    ("sample_plugins.unknown_hook", "Emplacement inconnu « footer_of_everything »"),
    ("sample_plugins.good,sample_plugins.twin", "Le format d'export « txt » est déjà enregistré"),
]


@pytest.mark.parametrize(("names", "says"), BROKEN)
def test_a_broken_plugin_stops_the_start_naming_it(app_config, names, says):
    with pytest.raises(PluginError) as stopped:
        create_app({**app_config, "PLUGINS": names})
    assert names.split(",")[-1] in str(stopped.value)
    assert says in str(stopped.value)


def test_the_command_says_which_plugin_is_broken(app_config):
    env = {**os.environ, "PLUGINS": "sample_plugins.failing",
           "MONGODB_URI": app_config["MONGODB_URI"], "SECRET_KEY": "x" * 32,
           "PYTHONPATH": str(Path(__file__).parent)}  # fmt: skip
    done = subprocess.run([PARCOURS, "install"], env=env, capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 1
    first_line = done.stderr.splitlines()[0]
    assert first_line.startswith("Error: Extension « sample_plugins.failing » : échec au démarrage")
    assert "the MSSanté certificate is missing" in first_line


def test_the_readmes_example_plugin_works(app_config, tmp_path, monkeypatch):
    """The example of "Écrire un plugin", as the README prints it."""
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    example = readme.split("### Écrire un plugin", 1)[1].split("```python\n", 1)[1]
    package = tmp_path / "readme_example"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "bonjour.py").write_text(example.split("```", 1)[0], encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    example_app = create_app({**app_config, "PLUGINS": "readme_example.bonjour"})
    assert "Bonjour depuis une extension." in example_app.test_client().get("/bonjour").text
    with example_app.app_context():
        assert "bonjour" in operators()
        context = runtime.ServiceContext("suivi", 1, "accueil", "Accueil", {})
        greeted = runtime.connector_named("bonjour")({"nom": "Léa"}, context)
        assert greeted == {"message": "Bonjour Léa", "step": "accueil"}
