"""Settings read from the environment (DESIGN.md §5).

`load_config` returns a plain mapping; `create_app(config)` lays a test mapping over it.
"""

import os
import re
import secrets
from pathlib import Path
from urllib.parse import urlsplit


class ConfigError(RuntimeError):
    """A setting is missing or wrong: start-up stops with this message."""


DEFAULTS = {
    "PARCOURS_ENV": "production",
    "PARCOURS_DATA_DIR": "instance",
    "MONGODB_URI": "",
    # The embedded server's cache (WiredTiger), e.g. "4G"; empty: its default, 1G. A directory
    # of several hundred thousand professionals imports far faster with 4G (README).
    "EMBEDDED_CACHE_SIZE": "",
    "BASE_URL": "http://127.0.0.1:5000",
    "SMTP_HOST": "",
    "SMTP_PORT": 25,
    "SMTP_USER": "",
    "SMTP_PASSWORD": "",
    "SMTP_TLS": False,
    "MAIL_FROM": "parcours@localhost",
    # E-mail delivery by `parcours worker`: tries per e-mail, the first wait between two (it
    # grows 4 times at each try), and the hour (France) of the daily digest.
    "MAIL_MAX_ATTEMPTS": 6,
    "MAIL_RETRY_SECONDS": 60,
    "DIGEST_HOUR": 7,
    # The longest a worker's round spends on one queue (e-mails, webhooks, MSSanté) before it
    # goes on: the pathways' timers come first in each round and never wait behind a queue.
    "WORKER_QUEUE_SECONDS": 10,
    # The plugins to turn on (comma-separated); unset: none, and in development (the demo)
    # those that need no outside service: DEMO_PLUGINS.
    "PLUGINS": None,
    # Where Flask-Limiter keeps its counters; empty: in the application's database.
    "RATELIMIT_STORAGE_URI": "",
    "LOGIN_RATE_LIMIT": "10 per minute",
    # What shows a dossier's identity to someone outside it (the identity search, the join
    # page, the duplicate check's candidates), per account, web and API together.
    "SEARCH_RATE_LIMIT": "20 per hour;100 per day",
    # Failed passwords in a row before an account is locked, and for how long.
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_LOCK_MINUTES": 15,
    # A session without a page opened for this long ends (polls do not count).
    "SESSION_IDLE_MINUTES": 30,
    # Platform and structure admins must use a second factor (TOTP); empty: yes in production,
    # no in development (the demo's admins).
    "ADMIN_TOTP_REQUIRED": "",
    # Reverse proxies in front of the app whose X-Forwarded-* headers are trusted (nginx: 1).
    "TRUSTED_PROXIES": 0,
    # The shortest period, in seconds, at which a pathway's timer may fire again by itself
    # (a cycle, or a loop where nobody acts): deployment refuses shorter ones.
    "TIMER_MIN_REPEAT": 3600,
    # In-app notices of one kind one person gets per hour; beyond, they are folded into one
    # notice and no e-mail goes. 0: no cap.
    "NOTIFY_MAX_PER_HOUR": 20,
    # JSON bodies of the API; uploads raise it per route.
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "DEMO_SEED": True,
    # What one pathway step may do before it is stopped and its instance put in error: engine
    # tasks run in a row without waiting for anyone, seconds of computing; and the instances
    # of a multi-instance activity or passes of a loop (also checked at deployment).
    "ENGINE_MAX_STEPS": 1000,
    "ENGINE_MAX_SECONDS": 10,
    "ENGINE_MAX_CARDINALITY": 100,
}

INT_KEYS = {
    "SMTP_PORT",
    "MAIL_MAX_ATTEMPTS",
    "MAIL_RETRY_SECONDS",
    "WORKER_QUEUE_SECONDS",
    "DIGEST_HOUR",
    "LOGIN_MAX_FAILURES",
    "LOGIN_LOCK_MINUTES",
    "SESSION_IDLE_MINUTES",
    "MAX_CONTENT_LENGTH",
    "TRUSTED_PROXIES",
    "TIMER_MIN_REPEAT",
    "NOTIFY_MAX_PER_HOUR",
    "ENGINE_MAX_STEPS",
    "ENGINE_MAX_SECONDS",
    "ENGINE_MAX_CARDINALITY",
}
BOOL_KEYS = {"SMTP_TLS", "DEMO_SEED"}
DEMO_PLUGINS = "exports,mss,webhooks"
SECRET_FILE = "secret_key"  # noqa: S105 - a file name


def _parse(key, raw):
    if key in INT_KEYS:
        return int(raw)
    if key in BOOL_KEYS:
        return _boolean(raw)
    return raw


def _boolean(raw):
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def load_config(environ=None, overrides=None):
    """Return the settings: defaults, then the environment, then `overrides`."""
    environ = os.environ if environ is None else environ
    config = dict(DEFAULTS)
    for key in [*DEFAULTS, "SECRET_KEY"]:
        if key in environ:
            config[key] = _parse(key, environ[key])
    config.update(overrides or {})
    config["PARCOURS_DATA_DIR"] = str(Path(config["PARCOURS_DATA_DIR"]).resolve())
    cache = str(config["EMBEDDED_CACHE_SIZE"] or "").strip().upper()
    if cache and not re.fullmatch(r"[1-9][0-9]*[MG]", cache):
        raise ConfigError(f"EMBEDDED_CACHE_SIZE must be like 512M or 4G, not {cache!r}.")
    config["EMBEDDED_CACHE_SIZE"] = cache
    for key in ("TIMER_MIN_REPEAT", "NOTIFY_MAX_PER_HOUR"):
        if not isinstance(config[key], int) or config[key] < 0:
            raise ConfigError(f"{key} must be a whole number, 0 or more, not {config[key]!r}.")
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _development_secret(config)
    config.update(_cookie_settings(config["BASE_URL"]))
    required = config["ADMIN_TOTP_REQUIRED"]
    if isinstance(required, str):
        required = _boolean(required) if required.strip() else None
    config["ADMIN_TOTP_REQUIRED"] = not is_development(config) if required is None else required
    if config["PLUGINS"] is None:
        config["PLUGINS"] = DEMO_PLUGINS if is_development(config) else ""
    return config


def is_development(config):
    return config.get("PARCOURS_ENV") == "development"


def _development_secret(config):
    """Keep one generated key in the data dir, so sessions survive a restart in development."""
    if not is_development(config):
        raise ConfigError(
            "SECRET_KEY is not set. Set it to a long random value "
            '(python -c "import secrets; print(secrets.token_urlsafe(48))"), '
            "or set PARCOURS_ENV=development to let Parcours generate one."
        )
    path = Path(config["PARCOURS_DATA_DIR"]) / SECRET_FILE
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def _cookie_settings(base_url):
    secure = urlsplit(base_url).scheme == "https"
    return {
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": secure,
        "PREFERRED_URL_SCHEME": "https" if secure else "http",
    }
