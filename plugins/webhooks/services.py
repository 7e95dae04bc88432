"""A structure administrator's subscriptions: make, pause, delete, new secret, delivery log.

Access is app/policy.py's (`webhook.list`, `webhook.view`, `webhook.manage`): a subscription
one may not see answers 404 like a missing one; one seen but not managed (a platform admin)
answers 403 to a change."""

import secrets
from datetime import timedelta

from bson import ObjectId
from flask import current_app

from app import audit, policy
from app.clock import utcnow
from app.db import object_id
from app.errors import Conflict, Forbidden, NotFound
from app.structures.models import Structure
from app.structures.services import cached_structure, structures_by_id, structures_of
from app.validation import InvalidInput
from plugins.webhooks import addresses
from plugins.webhooks.models import EVENTS, WebhookDelivery, WebhookSubscription

NOT_FOUND = "Cet abonnement n'existe pas."
DELIVERY_NOT_FOUND = "Cet envoi n'existe pas dans le journal de cet abonnement."
LOG_SIZE = 50  # the latest deliveries a log page shows
LIST_SIZE = 200
FIRST_WINDOW = timedelta(hours=1)


def new_secret():
    return f"whsec_{secrets.token_urlsafe(32)}"


def manageable_structures(actor):
    """The active structures `actor` may subscribe for (those they administer)."""
    return [s for s in structures_of(actor) if policy.can(actor, "webhook.manage", _draft(s))]


def creation_choices(actor):
    """The structures `actor` may subscribe for; Forbidden when there is none."""
    policy.require(actor, "webhook.list")
    choices = manageable_structures(actor)
    if not choices:
        raise Forbidden(
            "Seuls les administrateurs d'une structure abonnent ses logiciels aux événements."
        )
    return choices


def structure_of(subscription):
    return cached_structure(subscription.structure)


def _draft(structure):
    return WebhookSubscription(structure=structure.id)


def list_subscriptions(actor):
    """(subscriptions, {structure id: Structure}): every one for a platform admin, those of
    the structures one administers otherwise; two queries whatever the number."""
    policy.require(actor, "webhook.list")
    if policy.can(actor, "webhook.list_all"):  # a platform admin: the whole region
        found = WebhookSubscription.objects.order_by("-created_at").limit(LIST_SIZE)
    else:
        ids = [s.id for s in manageable_structures(actor)]
        found = WebhookSubscription.objects(structure__in=ids).order_by("-created_at")
    found = found.exclude("secret")  # never on a page after it was shown once
    found = [s for s in found if policy.can(actor, "webhook.view", s)]
    return found, structures_by_id({s.structure for s in found})


def get_subscription(actor, subscription_id, action="webhook.view"):
    oid = object_id(subscription_id)
    subscription = WebhookSubscription.objects(id=oid).first() if oid else None
    if subscription is None or not policy.can(actor, "webhook.view", subscription):
        raise NotFound(NOT_FOUND)
    policy.require(actor, action, subscription)
    return subscription


def _structure(value):
    """The structure named by its id or its key in a form, or None."""
    oid = object_id(value)
    found = Structure.objects(id=oid).first() if oid else None
    return found or Structure.objects(key=str(value or "")[:64]).first()


def _clean(data):
    """The checked fields of a new subscription; InvalidInput names every wrong one."""
    errors, allow_private = {}, current_app.config["WEBHOOKS_ALLOW_PRIVATE"]
    url = (data.get("url") or "").strip()
    try:
        addresses.check(url, allow_private)
    except addresses.Refused as refused:
        errors["/url"] = str(refused)
    events = list(dict.fromkeys(data.get("events") or []))
    unknown = [event for event in events if event not in EVENTS]
    if unknown:
        errors["/events"] = f"Événement inconnu « {unknown[0][:50]} »."
    elif not events:
        errors["/events"] = "Choisissez au moins un événement."
    label = (data.get("label") or "").strip()
    if len(label) > 100:
        errors["/label"] = "Le libellé ne doit pas dépasser 100 caractères."
    if errors:
        raise InvalidInput(errors, "L'abonnement n'est pas enregistré : corrigez les champs.")
    return {"url": url, "events": events, "label": label or None}


def create_subscription(actor, data):
    """A new subscription of a structure `actor` administers; returns it with its secret,
    to show once. `data`: structure (id or key), url, events (list), label."""
    policy.require(actor, "webhook.list")
    structure = _structure(data.get("structure"))
    if structure is None:
        raise InvalidInput({"/structure": "Cette structure n'existe pas."},
                           "L'abonnement n'est pas enregistré : corrigez les champs.")  # fmt: skip
    # Whose structure first: another's is refused whatever the rest says.
    policy.require(actor, "webhook.manage", _draft(structure))
    cleaned = _clean(data)
    # Once per address: a second form sent again (a reload of the secret's page) is refused.
    taken = WebhookSubscription.objects(structure=structure.id).scalar("url")
    if cleaned["url"] in set(taken):
        message = "Cette adresse est déjà abonnée pour cette structure."
        raise InvalidInput({"/url": message}, message)
    secret = new_secret()
    subscription = WebhookSubscription(structure=structure.id, secret=secret,
                                       created_by=actor.id, **cleaned)  # fmt: skip
    subscription.save(force_insert=True)
    audit.record(actor, "webhook.create", subscription, structure=structure.key,
                 url=subscription.url, events=subscription.events)  # fmt: skip
    return subscription, secret


def set_active(actor, subscription, active):
    """Pause or resume: a paused subscription gets no new event; what waits is cancelled
    when its turn comes (see delivery)."""
    policy.require(actor, "webhook.manage", subscription)
    WebhookSubscription.objects(id=subscription.id).update_one(set__active=bool(active))
    subscription.active = bool(active)
    audit.record(actor, "webhook.activate" if active else "webhook.deactivate", subscription)
    return subscription


def regenerate_secret(actor, subscription):
    """A new secret, effective at once (the next attempts are signed with it); returns it."""
    policy.require(actor, "webhook.manage", subscription)
    secret = new_secret()
    WebhookSubscription.objects(id=subscription.id).update_one(
        set__secret=secret, set__secret_made_at=utcnow()
    )
    subscription.secret = secret
    audit.record(actor, "webhook.secret", subscription)
    return secret


def delete_subscription(actor, subscription):
    """The subscription and its log go; what was still waiting is never sent."""
    policy.require(actor, "webhook.manage", subscription)
    WebhookDelivery.objects(subscription=subscription.id).delete()
    subscription.delete()
    audit.record(actor, "webhook.delete", subscription, url=subscription.url)


def delivery_log(actor, subscription, size=LOG_SIZE):
    """The latest deliveries of `subscription`, newest first. Each query reads one window of
    `_id` (time) on the index, never the whole history (the embedded database reads every
    match before it limits); windows double going back to the subscription's creation."""
    policy.require(actor, "webhook.view", subscription)
    start = subscription.created_at - timedelta(seconds=1)  # ObjectIds keep whole seconds
    moment, span, found = utcnow() + timedelta(seconds=1), FIRST_WINDOW, []
    while len(found) < size and moment > start:
        low = max(start, moment - span)
        found += list(
            WebhookDelivery.objects(subscription=subscription.id,
                                    id__gte=ObjectId.from_datetime(low),
                                    id__lt=ObjectId.from_datetime(moment))
            .order_by("-id").limit(size - len(found)).exclude("body")
        )  # fmt: skip
        moment, span = low, span * 2
    return found


def retry_delivery(actor, subscription, delivery_id):
    """Queue a failed delivery of `subscription` again, due now, for a new round of attempts
    (once the receiving software is mended); returns it. NotFound when it is not one of this
    subscription's deliveries; Conflict, with nothing changed, when it is not failed or the
    subscription is paused (the worker would only cancel it)."""
    policy.require(actor, "webhook.manage", subscription)
    oid = object_id(delivery_id)
    found = WebhookDelivery.objects(id=oid, subscription=subscription.id)
    delivery = found.exclude("body").first() if oid else None
    if delivery is None:
        raise NotFound(DELIVERY_NOT_FOUND)
    if delivery.status != "failed":
        raise Conflict(
            f"Cet envoi est « {delivery.state_label} » : seul un envoi en échec peut être renvoyé."
        )
    if not subscription.active:
        raise Conflict("L'abonnement est en pause : reprenez-le avant de renvoyer un envoi.")
    # `attempts` counts the attempts of the current round: it picks the next back-off delay
    # and ends the round at MAX_ATTEMPTS. Kept at 6, the first new failure would give up at
    # once, without any retry; back to 0, a receiver still down gets the whole round again
    # (1 min … 12 h). The earlier count stays in the audit trail. The last error stays on the
    # log until the next attempt replaces it: it says why the delivery had failed.
    previous, now = delivery.attempts, utcnow()
    moved = found.filter(status="failed").update_one(
        set__status="pending", set__attempts=0, set__next_attempt_at=now, unset__failed_at=True
    )
    if not moved:  # retried, or deleted, by someone else meanwhile
        raise Conflict("Cet envoi vient d'être modifié : rechargez le journal.")
    audit.record(actor, "webhook.retry", subscription, delivery=str(delivery.id),
                 event=delivery.event, attempts=previous)  # fmt: skip
    delivery.status, delivery.attempts, delivery.next_attempt_at = "pending", 0, now
    delivery.failed_at = None
    return delivery
