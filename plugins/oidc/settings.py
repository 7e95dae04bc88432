"""The plugin's settings: OIDC_* keys, read from the application's configuration (a test
mapping) or else from the environment, since app/config.py only knows the platform's own."""

import os
from urllib.parse import urlsplit

from app.plugins import PluginError

DEFAULTS = {
    "OIDC_ISSUER": "",  # e.g. https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet
    "OIDC_CLIENT_ID": "",
    "OIDC_CLIENT_SECRET": "",
    "OIDC_SCOPES": "openid profile",  # Pro Santé Connect: "openid scope_all"
    # The authentication level asked for (acr_values); Pro Santé Connect asks for "eidas1".
    "OIDC_ACR_VALUES": "eidas1",
    # The claim holding the professional's national identifier (RPPS or ADELI number).
    "OIDC_RPPS_CLAIM": "SubjectNameID",
    "OIDC_NAME": "Pro Santé Connect",  # how the messages name the provider
    "OIDC_LABEL": "Se connecter avec Pro Santé Connect",
    # The provider authenticates strongly (Pro Santé Connect: CPS card or e-CPS app): its
    # sign-in stands for the second factor, no TOTP code is asked after it.
    "OIDC_STRONG_AUTH": True,
    # Seconds of clock difference allowed with the provider on the ID token's dates.
    "OIDC_CLOCK_SKEW": 60,
    # Plain http to the provider: for a provider on loopback in tests, never in production.
    "OIDC_ALLOW_INSECURE_HTTP": False,
}
REQUIRED = ("OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET")


def _parse(default, raw):
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"} if isinstance(raw, str) else raw
    if isinstance(default, int):
        return int(raw)
    return raw


def load(app):
    """Lay the settings on app.config and refuse an incomplete or insecure configuration;
    nothing is fetched from the provider here (start-up makes no network call)."""
    for key, default in DEFAULTS.items():
        if key in app.config:
            app.config[key] = _parse(default, app.config[key])
        else:
            app.config[key] = _parse(default, os.environ.get(key, default))
    missing = [key for key in REQUIRED if not app.config[key]]
    if missing:
        raise PluginError(f"réglage(s) manquant(s) : {', '.join(missing)}.")
    if not allowed_url(app.config, app.config["OIDC_ISSUER"]):
        raise PluginError(f"OIDC_ISSUER doit être une adresse https ({app.config['OIDC_ISSUER']}).")


def allowed_url(config, url):
    """Only https to the provider, unless OIDC_ALLOW_INSECURE_HTTP (tests on loopback)."""
    scheme = urlsplit(url or "").scheme
    return scheme == "https" or (scheme == "http" and config["OIDC_ALLOW_INSECURE_HTTP"])
