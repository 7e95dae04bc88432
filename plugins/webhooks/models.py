"""Subscriptions of a structure's software to events, and the queue of their deliveries."""

from mongoengine import (
    BooleanField,
    DateTimeField,
    Document,
    IntField,
    ListField,
    ObjectIdField,
    StringField,
)

from app.clock import utcnow

# The events a subscription may ask for, with what the administrator reads.
EVENTS = {
    "entry.added": "Élément ajouté à un dossier",
    "task.completed": "Étape de parcours terminée",
    "pathway.completed": "Parcours terminé",
    "consent.withdrawn": "Consentement retiré",
}
STATES = {
    "pending": "En attente",
    "delivered": "Livrée",
    "failed": "En échec",
    "cancelled": "Annulée",
}
MAX_URL_LENGTH = 2000


class WebhookSubscription(Document):
    """A structure's endpoint told of `events` on the dossiers the structure coordinates.

    The secret is kept as it is: signing needs it (a hash could not sign). It is shown to the
    administrator only when it is made (creation, regeneration), never on a page after."""

    structure = ObjectIdField(required=True)
    label = StringField(max_length=100)
    url = StringField(required=True, max_length=MAX_URL_LENGTH)
    events = ListField(StringField(choices=list(EVENTS)), required=True)
    active = BooleanField(default=True)
    secret = StringField(required=True)
    created_by = ObjectIdField(required=True)
    created_at = DateTimeField(default=utcnow)
    secret_made_at = DateTimeField(default=utcnow)

    meta = {
        "collection": "webhook_subscriptions",
        # Who hears an event (one query per event); a structure's list.
        "indexes": [("structure", "active", "events"), ("structure", "created_at")],
    }

    def __repr__(self):
        return f"<WebhookSubscription {self.id} {self.url}>"

    @property
    def event_labels(self):
        return [EVENTS.get(event, event) for event in self.events]


class WebhookDelivery(Document):
    """One event for one subscription: waiting to go, going (leased), delivered or given up.

    `body` is the exact JSON sent at every attempt (the receiver recognises a retry by the
    id it holds, also in the X-Parcours-Delivery header); the signature is made at each
    attempt, with its time. No health data: identifiers and event names only."""

    subscription = ObjectIdField(required=True)
    structure = ObjectIdField(required=True)
    event = StringField(required=True, choices=list(EVENTS))
    dossier = ObjectIdField()
    body = StringField(required=True)
    status = StringField(choices=list(STATES), default="pending")
    attempts = IntField(default=0)
    next_attempt_at = DateTimeField()
    last_attempt_at = DateTimeField()
    last_status = IntField()  # the HTTP status of the last answer, if there was one
    last_error = StringField()  # why the last attempt failed, in French
    lease_owner = StringField()
    lease_until = DateTimeField()
    created_at = DateTimeField(default=utcnow)
    delivered_at = DateTimeField()
    failed_at = DateTimeField()

    meta = {
        "collection": "webhook_deliveries",
        # The worker's scan (due first), a subscription's log (newest first), and the
        # worker's purge of the finished ones past WEBHOOKS_LOG_DAYS (delivery.forget_old).
        "indexes": [
            ("status", "next_attempt_at"),
            ("subscription", "-_id"),
            ("status", "created_at"),
        ],
    }

    def __repr__(self):
        return f"<WebhookDelivery {self.event} {self.status}>"

    @property
    def event_label(self):
        return EVENTS.get(self.event, self.event)

    @property
    def state_label(self):
        return STATES.get(self.status, self.status)
