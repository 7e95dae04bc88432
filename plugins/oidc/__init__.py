"""Sign in with an OpenID Connect provider such as Pro Santé Connect (CPS card, e-CPS app).

Turn it on with PLUGINS=oidc and OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET (other
settings: settings.py). The sign-in page shows the provider's button; the provider's answer
is verified (protocol.py), its RPPS/ADELI claim names the account of the directory entry that
bears the number, and the session opens as after a password (services.py, views.py). Signing
out of Parcours ends the provider's session too, when the provider has an end-session
endpoint (register {BASE_URL}/connexion as its post-logout redirect URI)."""

from plugins.oidc import settings, views


class Plugin:
    def init(self, app, registry):
        settings.load(app)
        registry.blueprint(views.bp)
        registry.sign_in_provider(
            "oidc", app.config["OIDC_LABEL"], "plugin_oidc.start", sign_out=views.sign_out_url
        )
