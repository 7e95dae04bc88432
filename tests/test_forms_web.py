"""The form library pages: read a form, fill it, see French errors, see the result."""

import re

import pytest
from helpers import html

from app.cli import cli


def field_error(page, field_id):
    """The message of the renderer's error element for the input `field_id`."""
    match = re.search(rf'id="{field_id}--error">([^<]*)</div>', page)
    return match.group(1) if match else None


@pytest.fixture
def library(runner):
    result = runner.invoke(cli, ["forms", "sync"])
    assert result.exit_code == 0, result.output


@pytest.fixture
def browser(login_as, professional):
    return login_as(professional)


def test_the_library_lists_the_shipped_forms(library, browser):
    page = html(browser.get("/formulaires/"))
    for title in ("Plan personnalisé de coordination en santé", "Évaluation multidimensionnelle"):
        assert title in page


def test_a_form_page_has_labelled_fields(library, browser):
    page = html(browser.get("/formulaires/ppcs"))
    assert 'lang="fr"' in page
    assert "<label" in page
    assert "astérisque (*) sont obligatoires." in page
    assert "/static/js/formkit.js" in page


def test_an_empty_submission_shows_french_errors_next_to_the_fields(library, browser):
    response = browser.post("/formulaires/evaluation_multidimensionnelle", {})
    assert response.status_code == 400
    page = html(response)
    assert "erreurs" in page
    assert field_error(page, "f-gir") == "Ce champ est obligatoire."


def test_what_was_typed_is_kept_and_checked(library, browser):
    response = browser.post(
        "/formulaires/evaluation_multidimensionnelle",
        {"gir": "sept", "date_evaluation": "2026-11-27"},
    )
    page = html(response)
    assert field_error(page, "f-gir") == "La valeur doit être un nombre entier."
    assert 'value="sept"' in page
    assert 'value="2026-11-27"' in page


def test_a_valid_submission_is_shown_read_only_and_nothing_is_stored(library, browser, app):
    import mongoengine

    db = mongoengine.get_db()

    # Documents per collection (an empty collection made by an index creation stores nothing).
    def counts():
        found = {name: db[name].count_documents({}) for name in db.list_collection_names()}
        return {name: n for name, n in found.items() if n}

    browser.get("/formulaires/evaluation_multidimensionnelle")  # as one does: the form first
    before = counts()
    data = {
        "date_evaluation": "2026-11-27",
        "lieu_evaluation": "domicile",
        "gir": "2",
        "aidants.aidant_present": "false",
        "synthese.analyse": "<b>Situation</b> complexe",
    }
    response = browser.post("/formulaires/evaluation_multidimensionnelle", data)
    page = html(response)
    assert response.status_code == 200, page
    assert "Le formulaire est valide." in page
    assert "27/11/2026" in page
    assert "&lt;b&gt;Situation&lt;/b&gt; complexe" in page
    assert counts() == before


def test_older_versions_stay_readable(library, browser, runner, tmp_path):
    import json
    import shutil

    from app.shipped import forms_folder as shipped_forms

    folder = tmp_path / "forms"
    shutil.copytree(shipped_forms(), folder)
    definition = json.loads((folder / "ppcs.json").read_text())
    definition["title"] = "PPCS v2"
    (folder / "ppcs.json").write_text(json.dumps(definition, ensure_ascii=False))
    runner.invoke(cli, ["forms", "sync", str(folder)])
    assert "PPCS v2" in html(browser.get("/formulaires/ppcs"))
    old = html(browser.get("/formulaires/ppcs?version=1"))
    assert "Plan personnalisé de coordination en santé" in old


def test_unknown_form_and_anonymous(library, client):
    assert client.get("/formulaires/").status_code == 302
    assert client.get("/formulaires/ppcs").status_code == 302


def test_unknown_form_is_a_french_404(library, browser):
    response = browser.get("/formulaires/nope")
    assert response.status_code == 404
    assert "Ce formulaire n&#39;existe pas." in html(response)
