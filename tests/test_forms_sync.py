"""The forms shipped with Parcours, and `parcours forms sync`."""

import json
import shutil

import pytest

from app.cli import cli
from app.formkit.models import Form, FormVersion
from app.formkit.schema import check_form_schema
from app.shipped import forms_folder as shipped_forms
from app.validation import InvalidInput

SHIPPED = sorted(shipped_forms().glob("*.json"))


def test_six_realistic_forms_are_shipped():
    keys = {path.stem for path in SHIPPED}
    assert {
        "demande_appui_dac",
        "evaluation_multidimensionnelle",
        "ppcs",
        "compte_rendu_visite_domicile",
        "synthese_rcp",
        "fiche_liaison_sortie_hospitalisation",
    } <= keys


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.stem)
def test_each_shipped_form_is_publishable(path):
    definition = json.loads(path.read_text(encoding="utf-8"))
    assert definition["key"] == path.stem
    check_form_schema(definition["schema"], definition["ui_schema"])


def test_the_evaluation_has_a_top_level_gir(app):
    schema = json.loads((shipped_forms() / "evaluation_multidimensionnelle.json").read_text())
    assert schema["schema"]["properties"]["gir"]["type"] == "integer"
    assert "gir" in schema["schema"]["required"]


def test_sync_is_idempotent_and_publishes_changed_files(runner, tmp_path):
    result = runner.invoke(cli, ["forms", "sync"])
    assert result.exit_code == 0, result.output
    assert Form.objects.count() == len(SHIPPED)
    assert FormVersion.objects.count() == len(SHIPPED)

    again = runner.invoke(cli, ["forms", "sync"])
    assert "created: -" in again.output
    assert "published: -" in again.output
    assert FormVersion.objects.count() == len(SHIPPED)

    folder = tmp_path / "forms"
    shutil.copytree(shipped_forms(), folder)
    changed = folder / "ppcs.json"
    definition = json.loads(changed.read_text())
    definition["title"] = "PPCS (nouvelle version)"
    changed.write_text(json.dumps(definition, ensure_ascii=False))
    result = runner.invoke(cli, ["forms", "sync", str(folder)])
    assert "published: ppcs" in result.output
    assert Form.objects.get(key="ppcs").latest_version == 2
    assert FormVersion.objects.get(form="ppcs", version=1).title != "PPCS (nouvelle version)"


def test_sync_refuses_a_broken_file_and_names_the_problem(runner, tmp_path):
    broken = {
        "key": "casse",
        "title": "Cassé",
        "category": "medical",
        "schema": {"type": "object", "properties": {"a": {"$ref": "http://x/y"}}},
    }
    (tmp_path / "casse.json").write_text(json.dumps(broken))
    result = runner.invoke(cli, ["forms", "sync", str(tmp_path)])
    assert result.exit_code == 1
    assert "/schema/properties/a/$ref" in result.output
    assert Form.objects.count() == 0


def test_a_shipped_form_validates_real_data(app, runner):
    from app.formkit.services import get_version, validate_submission
    from app.policy import SYSTEM

    runner.invoke(cli, ["forms", "sync"])
    _, version = get_version(SYSTEM, "ppcs")
    with pytest.raises(InvalidInput) as refused:
        validate_submission(version, {"actions": [{"action": "x" * 10_000}]})
    assert "/actions/0/action" in refused.value.fields
