"""API: a dossier's thread, conversations between professionals, their messages."""

from app.api.core import current_api_user, json_body, route
from app.discussions import services
from app.discussions.models import MAX_BODY
from app.dossiers import services as dossiers
from app.paging import int_arg
from app.validation import check

TAG = "Discussions"
MESSAGE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["body"],
    "properties": {
        "body": {"type": "string", "maxLength": MAX_BODY},
        "documents": {
            "type": "array",
            "maxItems": services.MAX_FILES,
            "items": {"type": "string", "maxLength": 40},
            "description": "Documents du dossier joints au message (identifiants d'éléments)",
        },
    },
}
CONVERSATION = {
    "type": "object",
    "additionalProperties": False,
    "required": ["participants"],
    "properties": {
        "participants": {
            "type": "array",
            "minItems": 1,
            "maxItems": services.MAX_PARTICIPANTS,
            "items": {"type": "string", "maxLength": 40},
        },
        "title": {"type": "string", "maxLength": services.MAX_TITLE},
        "body": {"type": "string", "maxLength": MAX_BODY},
    },
}


def message_json(message, visible):
    """A message; an attached document outside `visible` (services.visible_documents) is
    only said to be there."""
    return {
        "id": str(message.id),
        "seq": message.seq,
        "author": str(message.author),
        "author_name": message.author_name,
        "body": message.body or "",
        "created_at": message.created_at.isoformat(),
        "attachments": [attachment_json(a, visible) for a in message.attachments],
    }


def attachment_json(attachment, visible):
    if not services.named(attachment, visible):
        return {"entry": None, "file": None, "filename": None, "content_type": None,
                "size": None, "restricted": True}  # fmt: skip
    return {
        "entry": str(attachment.entry) if attachment.entry else None,
        "file": str(attachment.file) if attachment.file else None,
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "restricted": False,
    }


def _messages(actor, discussion, dossier):
    before = int_arg("before")
    after = int_arg("after")
    found = services.read(actor, discussion, dossier, before=before, after=after)
    visible = services.visible_documents(actor, dossier, found)
    return {
        "discussion": str(discussion.id),
        "items": [message_json(m, visible) for m in found],
        "before": found[0].seq if found and found[0].seq > 1 and after is None else None,
    }


def _post(actor, discussion, dossier):
    data = check(MESSAGE, json_body())
    message = services.post(
        actor, discussion, dossier, data["body"], cited=data.get("documents", [])
    )
    return message_json(message, services.visible_documents(actor, dossier, [message])), 201


@route(
    "/dossiers/<dossier_id>/messages",
    "GET",
    "La discussion du dossier (30 messages ; before=n : les précédents, after=n : les suivants)",
    params=("before", "after"),
    tag=TAG,
)
def dossier_messages(dossier_id):
    actor = current_api_user()
    dossier = dossiers.get_dossier(actor, dossier_id, record=False)
    return _messages(actor, services.dossier_thread(actor, dossier), dossier)


@route(
    "/dossiers/<dossier_id>/messages",
    "POST",
    "Écrire dans la discussion du dossier : {body, documents?}",
    body=MESSAGE,
    status=201,
    tag=TAG,
)
def post_dossier_message(dossier_id):
    actor = current_api_user()
    dossier = dossiers.get_dossier(actor, dossier_id, record=False)
    return _post(actor, services.dossier_thread(actor, dossier, "discussion.post"), dossier)


@route("/conversations", "GET", "Mes conversations, la plus récente d'abord", tag=TAG)
def list_conversations():
    actor = current_api_user()
    return {
        "items": [
            {
                "id": str(discussion.id),
                "title": discussion.title,
                "participants": others,
                "unread": row.unread,
                "last_message_at": (
                    discussion.last_message_at.isoformat() if discussion.last_message_at else None
                ),
            }
            for row, discussion, _, others in services.mine(actor)
            if discussion.kind == "conversation"
        ]  # fmt: skip
    }


@route(
    "/conversations",
    "POST",
    "Commencer une conversation : {participants: [id…], title?, body?}",
    body=CONVERSATION,
    status=201,
    tag=TAG,
)
def create_conversation():
    actor = current_api_user()
    data = check(CONVERSATION, json_body())
    discussion = services.start_conversation(actor, data["participants"], data.get("title"))
    if (data.get("body") or "").strip():
        services.post(actor, discussion, None, data["body"])
    return {"id": str(discussion.id)}, 201


@route(
    "/conversations/<discussion_id>/messages",
    "GET",
    "Les messages d'une conversation (before=n, after=n)",
    params=("before", "after"),
    tag=TAG,
)
def conversation_messages(discussion_id):
    actor = current_api_user()
    discussion, dossier = services.get_discussion(actor, discussion_id)
    return _messages(actor, discussion, dossier)


@route(
    "/conversations/<discussion_id>/messages",
    "POST",
    "Écrire dans une conversation : {body}",
    body=MESSAGE,
    status=201,
    tag=TAG,
)
def post_conversation_message(discussion_id):
    actor = current_api_user()
    discussion, dossier = services.get_discussion(actor, discussion_id, "discussion.post")
    return _post(actor, discussion, dossier)
