import pytest

from app import create_app
from app.config import ConfigError, load_config


def test_production_without_secret_key_refuses_to_start(tmp_path):
    environ = {"PARCOURS_ENV": "production", "PARCOURS_DATA_DIR": str(tmp_path)}
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        load_config(environ)


def test_create_app_without_secret_key_fails_before_touching_the_database(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("PARCOURS_ENV", "production")
    with pytest.raises(ConfigError):
        create_app({"PARCOURS_DATA_DIR": str(tmp_path), "MONGODB_URI": "mongodb://127.0.0.1:1/x"})
    assert not (tmp_path / "secantus.json").exists()


def test_development_generates_one_secret_and_keeps_it(tmp_path):
    environ = {"PARCOURS_ENV": "development", "PARCOURS_DATA_DIR": str(tmp_path)}
    first = load_config(environ)["SECRET_KEY"]
    second = load_config(environ)["SECRET_KEY"]
    assert len(first) >= 40
    assert first == second
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_settings_come_from_the_environment(tmp_path):
    environ = {
        "SECRET_KEY": "s",
        "PARCOURS_DATA_DIR": str(tmp_path),
        "LOGIN_MAX_FAILURES": "3",
        "SMTP_TLS": "yes",
        "MONGODB_URI": "mongodb://db.example:27017/parcours",
    }
    config = load_config(environ)
    assert config["LOGIN_MAX_FAILURES"] == 3
    assert config["SMTP_TLS"] is True
    assert config["MONGODB_URI"] == "mongodb://db.example:27017/parcours"


@pytest.mark.parametrize(
    ("base_url", "secure"),
    [("https://parcours.example.org", True), ("http://127.0.0.1:5000", False)],
)
def test_cookies_are_secure_behind_https(tmp_path, base_url, secure):
    config = load_config(
        {"SECRET_KEY": "s", "PARCOURS_DATA_DIR": str(tmp_path), "BASE_URL": base_url}
    )
    assert config["SESSION_COOKIE_SECURE"] is secure
    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_the_embedded_cache_size_is_checked(tmp_path):
    base = {"PARCOURS_ENV": "development", "PARCOURS_DATA_DIR": str(tmp_path)}
    assert load_config({**base, "EMBEDDED_CACHE_SIZE": "4g"})["EMBEDDED_CACHE_SIZE"] == "4G"
    assert load_config(base)["EMBEDDED_CACHE_SIZE"] == ""
    for wrong in ("lots", "4 G", "0G", "4T", "-1G"):
        with pytest.raises(ConfigError, match="EMBEDDED_CACHE_SIZE must be like 512M or 4G"):
            load_config({**base, "EMBEDDED_CACHE_SIZE": wrong})


def test_the_timer_minimum_and_the_notice_cap_are_whole_numbers(tmp_path):
    base = {"PARCOURS_ENV": "development", "PARCOURS_DATA_DIR": str(tmp_path)}
    config = load_config(base)
    assert (config["TIMER_MIN_REPEAT"], config["NOTIFY_MAX_PER_HOUR"]) == (3600, 20)
    changed = load_config({**base, "TIMER_MIN_REPEAT": "86400", "NOTIFY_MAX_PER_HOUR": "0"})
    assert (changed["TIMER_MIN_REPEAT"], changed["NOTIFY_MAX_PER_HOUR"]) == (86400, 0)
    for key in ("TIMER_MIN_REPEAT", "NOTIFY_MAX_PER_HOUR"):
        with pytest.raises(ConfigError, match=f"{key} must be a whole number, 0 or more"):
            load_config(base, {key: -1})


def test_the_demo_turns_on_the_plugins_that_need_no_outside_service(tmp_path):
    base = {"PARCOURS_DATA_DIR": str(tmp_path), "SECRET_KEY": "x"}
    assert load_config({**base, "PARCOURS_ENV": "development"})["PLUGINS"] == "exports,mss,webhooks"
    assert load_config(base)["PLUGINS"] == ""
    chosen = {**base, "PARCOURS_ENV": "development", "PLUGINS": "exports"}
    assert load_config(chosen)["PLUGINS"] == "exports"
    assert load_config({**base, "PARCOURS_ENV": "development", "PLUGINS": ""})["PLUGINS"] == ""
