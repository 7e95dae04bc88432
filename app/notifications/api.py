"""API: my notifications (paged, unread filter), mark read, preferences."""

from flask import request

from app.api.core import current_api_user, json_body, route
from app.notifications import services
from app.notifications.kinds import CHANNELS, KINDS
from app.paging import page_size

TAG = "Notifications"
NULLABLE_ID = {"type": ["string", "null"]}
NOTIFICATION = {
    "type": "object",
    "required": ["id", "kind", "text", "url", "read", "created_at"],
    "properties": {
        "id": {"type": "string"},
        "kind": {"enum": list(KINDS)},
        "kind_label": {"type": "string"},
        "text": {"type": "string", "description": "Sans nom de patient ni contenu de formulaire"},
        "url": {"type": "string", "description": "Adresse de la page concernée (tâche, dossier)"},
        "dossier": NULLABLE_ID,
        "task": NULLABLE_ID,
        "read": {"type": "boolean"},
        "read_at": {"type": ["string", "null"], "format": "date-time"},
        "created_at": {"type": "string", "format": "date-time"},
    },
}
PAGE = {
    "type": "object",
    "properties": {
        "items": {"type": "array", "items": NOTIFICATION},
        "next": {"type": ["string", "null"], "description": "À passer en after= pour la suite"},
        "unread": {"type": "integer", "description": "Nombre de notifications non lues"},
    },
}
MARKED = {
    "type": "object",
    "properties": {"marked": {"type": "integer"}, "unread": {"type": "integer"}},
}
PREFERENCES = {
    "type": "object",
    "properties": {
        "email": {"type": "boolean", "description": "false : aucun e-mail"},
        "kinds": {
            "type": "object",
            "properties": {kind: {"enum": list(CHANNELS)} for kind in KINDS},
        },
    },
}
TRUE = {"1", "true", "oui", "yes"}


def notification_json(notification):
    return {
        "id": str(notification.id),
        "kind": notification.kind,
        "kind_label": notification.kind_label,
        "text": notification.text,
        "url": notification.url,
        "dossier": str(notification.dossier) if notification.dossier else None,
        "task": str(notification.task) if notification.task else None,
        "read": notification.is_read,
        "read_at": notification.read_at.isoformat() if notification.read_at else None,
        "created_at": notification.created_at.isoformat(),
    }


@route(
    "/notifications",
    "GET",
    "Mes notifications, les plus récentes d'abord ; unread=true : les non lues ; page suivante : "
    "after=next",
    params=("unread", "after", "per_page"),
    response=PAGE,
    tag=TAG,
)
def list_notifications():
    actor = current_api_user()
    found, after = services.page(
        actor,
        unread=request.args.get("unread", "").lower() in TRUE,
        after=request.args.get("after"),
        per_page=page_size(default=20),
    )
    return {
        "items": [notification_json(n) for n in found],
        "next": after,
        "unread": services.unread_count(actor),
    }


@route(
    "/notifications/<notification_id>/read",
    "POST",
    "Marquer une de mes notifications comme lue",
    response=NOTIFICATION,
    tag=TAG,
)
def read_notification(notification_id):
    return notification_json(services.mark_read(current_api_user(), notification_id))


@route(
    "/notifications/read-all",
    "POST",
    "Marquer toutes mes notifications comme lues",
    response=MARKED,
    tag=TAG,
)
def read_all_notifications():
    actor = current_api_user()
    marked = services.mark_all_read(actor)
    return {"marked": marked, "unread": services.unread_count(actor)}


@route(
    "/notifications/preferences",
    "GET",
    "Mes préférences : un canal par genre de notification (app, immediate, digest, off) et "
    "l'interrupteur des e-mails",
    response=PREFERENCES,
    tag=TAG,
)
def get_notification_preferences():
    return services.preferences_json(services.get_preferences(current_api_user()))


@route(
    "/notifications/preferences",
    "PUT",
    "Changer mes préférences : les genres absents gardent leur canal ; email=false : ne plus "
    "rien recevoir par e-mail",
    body=services.PREFERENCES,
    response=PREFERENCES,
    tag=TAG,
)
def put_notification_preferences():
    actor = current_api_user()
    return services.preferences_json(services.update_preferences(actor, json_body()))
