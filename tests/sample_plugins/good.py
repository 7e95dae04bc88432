"""A plugin that registers one of everything (the README's example, grown)."""

from flask import Blueprint
from markupsafe import escape

RECEIVED = []  # the notices the channel got: (user email, kind)
JOB_RUNS = []


def echo(params, context):
    return {"echo": params.get("text"), "element": context.element_id}


def channel(notification, user):
    RECEIVED.append((user.email, notification.kind))


def text_export(view):
    lines = [view.dossier.identity.display_name]
    lines += [f"- {entry.kind}: {entry.title or entry.text or ''}" for entry in view.entries]
    return "\n".join(lines).encode()


def job(now):
    JOB_RUNS.append(now)
    return "1 chose faite"


bp = Blueprint("plugin_good", __name__)


@bp.get("/extension-exemple/ping")
def ping():
    return {"pong": True}


class Plugin:
    def init(self, app, registry):
        registry.connector("sample_echo", echo)
        registry.notification_channel("sample_channel", channel)
        registry.exporter("txt", "Texte", "text/plain", "txt", text_export)
        registry.sign_in_provider("sample", "Se connecter avec l'exemple", "plugin_good.ping")
        registry.blueprint(bp)
        registry.worker_job("sample_job", job, every=3600)
        registry.template_hook(
            "dossier_actions",
            lambda dossier, actor: f'<span id="hook-exemple">{escape(actor.name)}</span>',
        )
