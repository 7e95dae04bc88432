"""From the services' signals to deliveries waiting in the queue.

A receiver runs inside the request that did the action: it only writes the deliveries (one
query for the subscriptions that want the event, one insert), never calls anyone's server.
Only the subscriptions of the dossier's coordinating structure hear about it. The body holds
identifiers and event names only, never health data (no name, no form content, no text): the
receiving software reads what it may see through the API, with its own habilitations."""

import json
import logging

from bson import ObjectId
from flask import current_app, has_app_context

from app import signals
from app.clock import utcnow
from plugins.webhooks.models import WebhookDelivery, WebhookSubscription

log = logging.getLogger(__name__)


def iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


def enqueue(event, structure_id, dossier_id, details):
    """A delivery of `event` for each active subscription of `structure_id` that wants it;
    returns them. `details`: the identifiers the body adds (entry, task, instance…)."""
    if structure_id is None or dossier_id is None:
        return []
    subscriptions = WebhookSubscription.objects(structure=structure_id, active=True,
                                                events=event).only("id")  # fmt: skip
    now, made = utcnow(), []
    for subscription in subscriptions:
        delivery_id = ObjectId()
        body = {"id": str(delivery_id), "event": event, "occurred_at": iso(now),
                "dossier": str(dossier_id), **details}  # fmt: skip
        made.append(
            WebhookDelivery(
                id=delivery_id,
                subscription=subscription.id,
                structure=structure_id,
                event=event,
                dossier=dossier_id,
                body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
                next_attempt_at=now,
                created_at=now,
            )
        )
    if made:
        WebhookDelivery.objects.insert(made, load_bulk=False)
    return made


def _enabled():
    return has_app_context() and "webhooks" in current_app.extensions


def _guarded(receiver):
    """The action that sent the signal stands whatever happens here: a failure to queue is
    logged, never raised into the request that did the action."""

    def guarded(sender, **kwargs):
        if not _enabled():  # another app of the process, without the plugin
            return
        try:
            receiver(sender, **kwargs)
        except Exception:  # noqa: BLE001 - logged; the user's action is done already
            log.exception("webhooks: %s could not be queued", receiver.__name__)

    guarded.__name__ = receiver.__name__
    return guarded


@_guarded
def on_entry_added(actor, dossier, entry, **_):
    enqueue("entry.added", dossier.structure, dossier.id, {"entry": str(entry.id)})


@_guarded
def on_task_completed(actor, task, instance, **_):
    # task.structure: the dossier's coordinating structure (None for a platform process).
    details = {"task": str(task.id), "task_name": task.title, "step": task.spec,
               "instance": str(task.instance), "pathway": task.pathway}  # fmt: skip
    enqueue("task.completed", task.structure, task.dossier, details)


@_guarded
def on_pathway_completed(instance, dossier=None, **_):
    if dossier is not None:
        details = {"instance": str(instance.id), "pathway": instance.pathway}
        enqueue("pathway.completed", dossier.structure, dossier.id, details)


@_guarded
def on_consent_withdrawn(actor, dossier, **_):
    enqueue("consent.withdrawn", dossier.structure, dossier.id, {})


RECEIVERS = (
    (signals.entry_added, on_entry_added),
    (signals.task_completed, on_task_completed),
    (signals.pathway_completed, on_pathway_completed),
    (signals.consent_withdrawn, on_consent_withdrawn),
)


def connect():
    """Listen to the services' signals (blinker keeps one connection per receiver: calling
    this for every app made in a process connects them once)."""
    for signal, receiver in RECEIVERS:
        signal.connect(receiver)
