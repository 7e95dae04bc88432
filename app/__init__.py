"""Parcours: a care-pathway coordination platform."""

from flask import Flask

__version__ = "0.1.0"


def create_app(config=None):
    """Build the application; `config` (a mapping) overrides the environment, e.g. in tests."""
    app = Flask(__name__)
    configure_settings(app, config)
    configure_database(app)
    configure_security(app)
    configure_i18n(app)
    configure_auth(app)
    register_blueprints(app)
    configure_plugins(app)
    register_error_handlers(app)
    register_template_helpers(app)
    return app


def configure_settings(app, overrides):
    from werkzeug.middleware.proxy_fix import ProxyFix

    from app.config import load_config

    app.config.update(load_config(overrides=overrides))
    hops = app.config["TRUSTED_PROXIES"]
    if hops:
        # Behind nginx: the client's address and scheme come from the X-Forwarded-* headers.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def configure_database(app):
    from app import db

    db.init_app(app)


def configure_security(app):
    from app import uploads
    from app.accounts import passwords
    from app.extensions import csrf, limiter, talisman

    uploads.init_app(app)  # first: the CSRF check reads the body
    csrf.init_app(app)
    if not app.config["RATELIMIT_STORAGE_URI"] and app.config.get("EMBEDDED_DATABASE"):
        app.config["RATELIMIT_STORAGE_URI"] = "memory://"  # one process: `parcours run`
    if not app.config["RATELIMIT_STORAGE_URI"]:
        # Counters in the application's database: shared by every worker and server.
        app.config["RATELIMIT_STORAGE_URI"] = app.config["DATABASE_URI"]
        app.config["RATELIMIT_STORAGE_OPTIONS"] = {
            "database_name": app.config["DATABASE_NAME"],
            "counter_collection_name": "ratelimit_counters",
            "window_collection_name": "ratelimit_windows",
        }
    limiter.init_app(app)
    talisman.init_app(
        app,
        force_https=app.config["SESSION_COOKIE_SECURE"],
        session_cookie_secure=app.config["SESSION_COOKIE_SECURE"],
        strict_transport_security=app.config["SESSION_COOKIE_SECURE"],
        content_security_policy={
            "default-src": "'self'",
            "img-src": "'self' data:",
            "style-src": "'self'",
            "script-src": "'self'",
            "object-src": "'none'",
            "base-uri": "'self'",
            "form-action": "'self'",
            "frame-ancestors": "'none'",
        },
        referrer_policy="same-origin",
    )
    if app.config.get("PASSWORD_HASHING") == "cheap":
        passwords.use_cheap_hashing()


def configure_i18n(app):
    from app.extensions import babel

    app.config.setdefault("BABEL_DEFAULT_LOCALE", "fr")
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Europe/Paris")
    babel.init_app(app)


def configure_auth(app):
    from flask_babel import lazy_gettext

    from app.accounts import sessions
    from app.extensions import login_manager

    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = lazy_gettext("Connectez-vous pour accéder à cette page.")
    login_manager.localize_callback = str  # flash the text of the request's locale
    login_manager.login_message_category = "warning"
    login_manager.session_protection = "basic"
    login_manager.user_loader(sessions.load_user)
    sessions.init_app(app)  # inactivity, an admin's second factor


def register_blueprints(app):
    from app.accounts.views import bp as accounts_bp
    from app.admin.views import bp as admin_bp
    from app.api import bp as api_bp
    from app.directory.views import bp as directory_bp
    from app.discussions.views import bp as discussions_bp
    from app.dossiers import circle_views  # noqa: F401 - its routes join the dossiers blueprint
    from app.dossiers.entry_views import bp as entries_bp
    from app.dossiers.views import bp as dossiers_bp
    from app.exports.views import bp as exports_bp
    from app.extensions import csrf
    from app.formkit.editor import bp as formeditor_bp
    from app.formkit.views import bp as formkit_bp
    from app.inbox.views import bp as inbox_bp
    from app.invitations.views import bp as invitations_bp
    from app.main import bp as main_bp
    from app.notifications import listeners  # noqa: F401 - its receivers connect to the signals
    from app.notifications.views import bp as notifications_bp
    from app.onboarding.views import bp as onboarding_bp
    from app.pathways.run_views import bp as runs_bp
    from app.pathways.views import bp as pathways_bp
    from app.structures.views import bp as structures_bp
    from app.terms.views import bp as terms_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(terms_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(structures_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(formeditor_bp)  # before formkit: /nouveau is not a form key
    app.register_blueprint(formkit_bp)
    app.register_blueprint(dossiers_bp)
    app.register_blueprint(entries_bp)
    app.register_blueprint(pathways_bp)
    app.register_blueprint(runs_bp)
    app.register_blueprint(inbox_bp)
    app.register_blueprint(discussions_bp)
    app.register_blueprint(invitations_bp)
    app.register_blueprint(onboarding_bp)
    app.register_blueprint(directory_bp)
    app.register_blueprint(notifications_bp)
    app.register_blueprint(exports_bp)
    csrf.exempt(api_bp)  # token-authenticated, never reads the session cookie
    app.register_blueprint(api_bp)


def configure_plugins(app):
    from app import plugins

    plugins.init_app(app)


def register_error_handlers(app):
    from app.errors import register_error_handlers as register

    register(app)


def register_template_helpers(app):
    from app.templating import register

    register(app)
