"""Unexpected errors: a French page on the web, the JSON error format under /api/."""

import pytest

from app import create_app


@pytest.fixture
def failing_app(app_config):
    app = create_app({**app_config, "TESTING": False})

    def explode():
        raise RuntimeError("boom")

    app.add_url_rule("/explose", "explode", explode)
    app.add_url_rule("/api/v1/explose", "api_explode", explode)
    return app


def test_an_unexpected_error_shows_a_french_page(failing_app):
    response = failing_app.test_client().get("/explose")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert 'lang="fr"' in page
    assert "Erreur interne" in page
    assert "boom" not in page  # nothing of the exception reaches the user


def test_an_unexpected_api_error_is_json(failing_app):
    response = failing_app.test_client().get("/api/v1/explose")
    assert response.status_code == 500
    assert response.json == {
        "error": {
            "code": "server_error",
            "message": "Une erreur interne est survenue. Réessayez plus tard ; si le problème "
            "persiste, contactez le support de la plateforme.",
        }
    }
