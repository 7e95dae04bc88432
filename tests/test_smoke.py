def test_health_reports_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


def test_login_then_home(web, professional):
    response = web.login(professional)
    assert response.status_code == 302
    page = web.get("/").get_data(as_text=True)
    assert "Bonjour Infirmière Pro" in page
    assert "DAC de test" in page
