"""Webhooks: a structure's own software is told, over HTTPS, of what happens in the dossiers
the structure coordinates. Turn it on with PLUGINS=webhooks.

A structure administrator subscribes an endpoint (`/structure/webhooks`) to some of the
events `entry.added`, `task.completed`, `pathway.completed`, `consent.withdrawn`. Each event
is a POST of a small JSON body of identifiers, never health data:

    {"id": "<delivery id>", "event": "task.completed", "occurred_at": "2026-11-27T09:30:00Z",
     "dossier": "<id>", "task": "<id>", "task_name": "Visite à domicile", "step": "visite",
     "instance": "<id>", "pathway": "suivi_gir"}

(`entry.added` adds `entry`; `pathway.completed` adds `instance` and `pathway`), with the
headers `X-Parcours-Event`, `X-Parcours-Delivery` (the delivery id: the same at every retry,
drop what you already have) and `X-Parcours-Signature: t=<unix time>,v1=<hex>`, where hex is
the HMAC-SHA256, keyed with the subscription's secret, of `"<t>.<raw body>"`. The receiver
then reads what it may see through the API (`GET /api/v1/dossiers/{id}`…). Verify it so:

    import hashlib, hmac, time

    def verify(secret, header, body, tolerance=300):
        fields = dict(part.split("=", 1) for part in header.split(","))
        signed = f"{fields['t']}.".encode() + body  # body: the raw bytes received
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        fresh = abs(time.time() - int(fields["t"])) <= tolerance  # no replay of old ones
        return fresh and hmac.compare_digest(expected, fields.get("v1", ""))

Answer 2xx within WEBHOOKS_TIMEOUT seconds; anything else is retried (1 min, 5 min, 30 min,
2 h, 12 h), then shown as failed in the subscription's delivery log, where the structure's
administrator may send it again ("Renvoyer": a new round of attempts, same id and body).
Events of one dossier may arrive out of order after a retry: sort them by `occurred_at`.

Settings (the app's config, else the environment): WEBHOOKS_TIMEOUT (seconds, default 5),
WEBHOOKS_CA_BUNDLE (a PEM file of the authorities to trust; default: the system's),
WEBHOOKS_ALLOW_PRIVATE (default false; true lets http:// and private, loopback… addresses
through: for tests and closed networks only), WEBHOOKS_LOG_DAYS (default 90, 1 to 3650: the
worker deletes the delivered, failed and cancelled deliveries of events older than that).
"""

import os

from flask import url_for
from markupsafe import Markup

from app import policy
from plugins.webhooks import delivery, events
from plugins.webhooks.views import bp

MAX_LOG_DAYS = 3650  # ten years; also keeps `now - days` far from datetime's limits


def _boolean(raw):
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _days(raw):
    """A whole number of days written as text ("90"); what is not one is refused below."""
    try:
        return int(raw.strip())
    except ValueError:
        return raw


SETTINGS = {
    "WEBHOOKS_TIMEOUT": (5.0, float),
    "WEBHOOKS_CA_BUNDLE": ("", str),
    "WEBHOOKS_ALLOW_PRIVATE": (False, _boolean),
    "WEBHOOKS_LOG_DAYS": (90, _days),
}


def configure(config):
    """Each setting from the app's config, else the environment, else its default."""
    for key, (default, parse) in SETTINGS.items():
        raw = config.get(key, os.environ.get(key, default))
        config[key] = parse(raw) if isinstance(raw, str) else raw
    if not 0 < config["WEBHOOKS_TIMEOUT"] <= 30:
        raise ValueError("WEBHOOKS_TIMEOUT doit être compris entre 0 et 30 secondes.")
    days = config["WEBHOOKS_LOG_DAYS"]
    if type(days) is not int or not 1 <= days <= MAX_LOG_DAYS:  # not a bool, not 1.5
        raise ValueError(
            f"WEBHOOKS_LOG_DAYS doit être un nombre entier de jours entre 1 et {MAX_LOG_DAYS} "
            f"(reçu : « {days} »)."
        )


def profile_link(actor):
    """A link to the subscriptions on the profile page of those who may see them."""
    if not policy.can(actor, "webhook.list"):
        return ""
    link = url_for("plugin_webhooks.index")
    return Markup(  # noqa: S704 - our own markup, nothing typed by a user
        '<h2 class="h5 mt-4">Webhooks</h2>'
        f'<p><a href="{link}" id="lien-webhooks">Envoyer les événements de mes dossiers '
        "à un logiciel de ma structure</a></p>"
    )


class Plugin:
    def init(self, app, registry):
        configure(app.config)
        app.extensions["webhooks"] = True  # the signal receivers act for this app
        events.connect()
        registry.blueprint(bp, url_prefix="/structure/webhooks")
        registry.worker_job("deliver", delivery.run, every=10)
        registry.template_hook("profile_sections", profile_link)
