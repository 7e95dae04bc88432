"""MSSanté secure mail: send from a dossier (a message, entries as PDF, documents) or from
the directory to an MSSanté address through the structure's operator (SMTP, STARTTLS, the
structure's client certificate), and file the mails its mailbox receives (IMAP, STARTTLS)
in the dossier's thread they answer or in a conversation of the structure's team.

Settings: MSS_DOMAINS (the health domains, default "mssante.fr" and its subdomains),
MSS_MAX_MAIL_BYTES (a bigger incoming mail stays in the mailbox, 30 MiB), MSS_TIMEOUT,
MSS_RETRY_SECONDS, MSS_MAX_ATTEMPTS, MSS_POLL_SECONDS. Needs the exports plugin's PDF."""

from flask import render_template_string, url_for

from app.plugins import PluginError
from plugins.mss import incoming, outgoing, settings, views

BUTTON = '<a class="btn btn-sm btn-outline-secondary" href="{{ href }}">{{ label }}</a>'


def _button(href, label="Envoyer par MSSanté"):
    return render_template_string(BUTTON, href=href, label=label)


def dossier_button(dossier, actor):
    if outgoing.mailbox_for(actor, dossier) is None:
        return ""
    return _button(url_for("plugin_mss.compose", dossier=dossier.id))


def entry_button(dossier, entry, actor):
    if entry.deleted or outgoing.mailbox_for(actor, dossier) is None:
        return ""
    return _button(url_for("plugin_mss.compose", dossier=dossier.id, entry=entry.id))


def directory_button(professional, actor):
    if not professional.mss or outgoing.mailbox_for(actor) is None:
        return ""
    return _button(url_for("plugin_mss.compose", to=professional.mss))


def profile_link(actor):
    if not settings.administered(actor):
        return ""
    return _button(url_for("plugin_mss.configure"), "Messagerie MSSanté de la structure")


class Plugin:
    def init(self, app, registry):
        if "exports" not in (app.config.get("PLUGINS") or ""):
            raise PluginError("elle envoie les éléments en PDF : activez aussi « exports ».")
        registry.blueprint(views.bp, url_prefix="/mss")
        registry.worker_job("send", lambda now: outgoing.send_due(now), every=30)
        registry.worker_job("receive", lambda now: incoming.receive_all(now),
                            every=app.config.get("MSS_POLL_SECONDS", 60))  # fmt: skip
        registry.template_hook("dossier_actions", dossier_button)
        registry.template_hook("entry_actions", entry_button)
        registry.template_hook("directory_actions", directory_button)
        registry.template_hook("profile_sections", profile_link)
