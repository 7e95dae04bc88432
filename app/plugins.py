"""The plugin contract: optional features in `plugins/<name>/`, turned on by the PLUGINS
setting (comma-separated names).

Each plugin package has a `Plugin` class; `Plugin().init(app, registry)` registers what it
brings through the `Registry` it is given: service-task connectors, notification channels,
exporters, sign-in providers, blueprints (named `plugin_<name>`), worker jobs and template
hooks. A plugin that cannot be imported, has no `Plugin`, or fails in `init` stops the
start-up with a PluginError naming it: a region never runs half of what it configured.
"""

import importlib
from dataclasses import dataclass, field

from markupsafe import Markup

from app.engine import runtime

# Where template hooks show, and what each page gives them.
HOOKS = {
    "dossier_actions": "buttons on a dossier's page (context: dossier, actor)",
    "entry_actions": "buttons beside an entry (context: dossier, entry, actor)",
    "login_buttons": "under the sign-in form (context: none)",
    "profile_sections": "sections of the profile page (context: actor)",
    "directory_actions": "buttons of a directory profile (context: professional, actor)",
}


class PluginError(RuntimeError):
    """A plugin could not be loaded: start-up stops with this message."""


@dataclass
class Exporter:
    name: str  # the `format` of the export routes: pdf, json, fhir…
    label: str  # what the download button says
    media_type: str
    extension: str
    build: object  # build(actor, kind, subject) -> bytes; kind: "dossier" | "entry"
    plugin: str = ""


@dataclass
class SignInProvider:
    name: str
    label: str  # "Se connecter avec Pro Santé Connect"
    endpoint: str  # the plugin's view that starts the sign-in
    plugin: str = ""
    # sign_out(session) -> the provider's address that ends its own session too, or None
    sign_out: object = None


@dataclass
class WorkerJob:
    name: str
    run: object  # run(now) -> a number of things done (printed by the worker)
    every: int  # seconds between two runs
    plugin: str = ""


@dataclass
class Host:
    """What the enabled plugins registered (app.extensions["parcours_plugins"])."""

    names: list = field(default_factory=list)
    connectors: dict = field(default_factory=dict)  # operator -> fn(params, context)
    channels: dict = field(default_factory=dict)  # name -> deliver(notification, user)
    exporters: dict = field(default_factory=dict)  # name -> Exporter
    providers: dict = field(default_factory=dict)  # name -> SignInProvider
    jobs: list = field(default_factory=list)
    hooks: dict = field(default_factory=dict)  # hook -> [render(**context) -> str | Markup]


class Registry:
    """Handed to one plugin's `init`: every registration is tagged with the plugin's name."""

    def __init__(self, app, host, name):
        self.app, self.host, self.name = app, host, name

    def _unique(self, kind, table, key):
        if key in table:
            raise PluginError(f"{kind} « {key} » est déjà enregistré par une autre extension.")

    def connector(self, name, fn):
        """A service-task operator: `fn(params, context)` -> a JSON-serializable result."""
        if name in runtime.CONNECTORS:
            raise PluginError(f"L'opérateur « {name} » est déjà celui de Parcours.")
        self._unique("L'opérateur", self.host.connectors, name)
        self.host.connectors[name] = fn

    def notification_channel(self, name, deliver):
        """`deliver(notification, user)` is called for every notice created."""
        self._unique("Le canal", self.host.channels, name)
        self.host.channels[name] = deliver

    def exporter(self, name, label, media_type, extension, build):
        self._unique("Le format d'export", self.host.exporters, name)
        self.host.exporters[name] = Exporter(name, label, media_type, extension, build, self.name)

    def sign_in_provider(self, name, label, endpoint, sign_out=None):
        self._unique("Le fournisseur d'identité", self.host.providers, name)
        provider = SignInProvider(name, label, endpoint, self.name, sign_out)
        self.host.providers[name] = provider

    def blueprint(self, blueprint, url_prefix=None):
        expected = f"plugin_{self.name}"
        if blueprint.name != expected:
            found = blueprint.name
            raise PluginError(f"Son blueprint doit s'appeler « {expected} », pas « {found} ».")
        self.app.register_blueprint(blueprint, url_prefix=url_prefix)

    def worker_job(self, name, run, every=60):
        self.host.jobs.append(WorkerJob(f"{self.name}.{name}", run, int(every), self.name))

    def template_hook(self, hook, render):
        if hook not in HOOKS:
            raise PluginError(f"Emplacement inconnu « {hook} » (connus : {', '.join(HOOKS)}).")
        self.host.hooks.setdefault(hook, []).append(render)


def enabled(config):
    return [name.strip() for name in (config.get("PLUGINS") or "").split(",") if name.strip()]


def init_app(app):
    """Load the plugins PLUGINS names, in that order; PluginError names the one that fails."""
    host = app.extensions["parcours_plugins"] = Host()
    for name in enabled(app.config):
        module_name = name if "." in name else f"plugins.{name}"
        short = name.rsplit(".", 1)[-1]
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            message = f"Extension « {name} » introuvable ou incomplète : {error}."
            raise PluginError(message) from error
        plugin_class = getattr(module, "Plugin", None)
        if plugin_class is None or not hasattr(plugin_class, "init"):
            raise PluginError(f"Extension « {name} » : pas de classe Plugin avec une méthode init.")
        try:
            plugin_class().init(app, Registry(app, host, short))
        except PluginError as error:
            raise PluginError(f"Extension « {name} » : {error}") from error
        except Exception as error:  # noqa: BLE001 - whatever it is, start-up stops, naming it
            raise PluginError(f"Extension « {name} » : échec au démarrage ({error!r}).") from error
        host.names.append(short)
    app.jinja_env.globals.update(
        plugin_hooks=render_hook,
        exporters=list(host.exporters.values()),
        sign_in_providers=list(host.providers.values()),
    )


def deliver_to_channels(made):
    """Hand each new notice [(notification, user)] to the plugins' channels. A channel that
    fails loses its own delivery, never the notice (kept in the app and its e-mail)."""
    from flask import current_app

    for name, deliver in host_of(current_app).channels.items():
        for notification, user in made:
            try:
                deliver(notification, user)
            except Exception:  # noqa: BLE001 - logged, the notice stands
                current_app.logger.exception("notification channel %s failed", name)


def run_jobs(app, now, last_runs):
    """The plugins' worker jobs due at `now` (`last_runs`: job name -> time of its last run,
    kept by the worker); returns {job name: what it did}."""
    done = {}
    for job in host_of(app).jobs:
        last = last_runs.get(job.name)
        if last is not None and (now - last).total_seconds() < job.every:
            continue
        last_runs[job.name] = now
        try:
            done[job.name] = job.run(now)
        except Exception:  # noqa: BLE001 - one job's failure does not stop the worker
            app.logger.exception("worker job %s failed", job.name)
            done[job.name] = "failed"
    return done


def sign_out_url(session):
    """The first sign-in provider's address that ends its session too (the session was
    opened through it), else None: read before the session is cleared. A plugin that fails
    here is logged and skipped: signing out of Parcours never depends on it."""
    from flask import current_app

    for provider in host_of(current_app).providers.values():
        try:
            url = provider.sign_out(session) if provider.sign_out else None
        except Exception:
            current_app.logger.exception("sign-out of the provider %s failed", provider.name)
            url = None
        if url:
            return url
    return None


def host_of(app):
    return app.extensions.get("parcours_plugins") or Host()


def _connectors_of_current_app():
    from flask import current_app, has_app_context

    return host_of(current_app).connectors if has_app_context() else {}


runtime.extra_connectors = _connectors_of_current_app


def render_hook(hook, **context):
    """What the plugins show at `hook` (a template calls {{ plugin_hooks("…", …) }}): the HTML
    their functions return, trusted as the plugins' own code is (render_template escapes what
    users typed)."""
    from flask import current_app

    parts = [render(**context) for render in host_of(current_app).hooks.get(hook, [])]
    return Markup("".join(str(part) for part in parts))  # noqa: S704 - the plugins' own HTML
