"""The e-mails of notifications: rendered when queued, from the kind alone.

An e-mail says only that something awaits on the platform, with a link: its subject and its
sentence come from the kind (app.notifications.kinds), never from the notification's text,
so no patient name, form or message content can reach a mailbox. Every e-mail carries a
signed link that stops all e-mails without signing in (and the List-Unsubscribe headers of
RFC 8058, for the mail clients' own button).
"""

from email.utils import make_msgid
from urllib.parse import urlsplit

from flask import current_app, render_template
from itsdangerous import BadSignature, URLSafeSerializer
from pymongo.errors import BulkWriteError

from app.clock import utcnow
from app.notifications.kinds import KINDS
from app.notifications.models import OutgoingMail

UNSUBSCRIBE_SALT = "parcours.notifications.unsubscribe"


# --- links -----------------------------------------------------------------------------------


def _urls():
    """The app's URL map bound to BASE_URL: links are built the same in a request, in the
    worker and in a CLI command (none of which knows the public address otherwise)."""
    base = urlsplit(current_app.config["BASE_URL"])
    return current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "https"
    )


def path_for(endpoint, **values):
    """The path of a page, e.g. the task a notice is about."""
    return _urls().build(endpoint, values)


def external_url(endpoint, **values):
    return _urls().build(endpoint, values, force_external=True)


def _signer():
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=UNSUBSCRIBE_SALT)


def unsubscribe_token(user):
    """A token naming this one account: it stops that account's e-mails, nobody else's."""
    return _signer().dumps(str(user.id))


def user_id_of(token):
    """The account id a token names, or None if it was not signed with our key."""
    try:
        value = _signer().loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


# --- messages --------------------------------------------------------------------------------


def new_message_id():
    domain = current_app.config["MAIL_FROM"].rpartition("@")[2] or "parcours.invalid"
    return make_msgid(domain=domain)  # a domain given: no DNS lookup of the host name


def _mail(key, user, subject, template, **context):
    unsubscribe = external_url("notifications.unsubscribe", token=unsubscribe_token(user))
    context.update(
        preferences=external_url("notifications.preferences"),
        unsubscribe=unsubscribe,
        home=external_url("main.index"),
    )
    return OutgoingMail(
        key=key,
        user=user.id,
        to=user.email,
        subject=subject,
        text=render_template(f"notifications/mail/{template}.txt", **context),
        html=render_template(f"notifications/mail/{template}.html", **context),
        message_id=new_message_id(),
        unsubscribe=unsubscribe,
        next_attempt_at=utcnow(),
    )


def queue_plain(key, to, subject, template, **context):
    """Queue an e-mail to someone who has no account yet (an invitation, an address to
    confirm): no preferences, no unsubscribe link; `template` names its .txt and .html."""
    context.setdefault("home", external_url("main.index"))
    OutgoingMail(
        key=key,
        to=to,
        subject=subject,
        text=render_template(f"{template}.txt", **context),
        html=render_template(f"{template}.html", **context),
        message_id=new_message_id(),
        next_attempt_at=utcnow(),
    ).save()


def notice_mail(notification, user):
    """The e-mail of one notice: its kind's subject and sentence, and the link that opens it."""
    kind = KINDS[notification.kind]
    found = _mail(
        f"notice:{notification.id}",
        user,
        kind.subject,
        "notice",
        sentence=kind.sentence,
        link=external_url("notifications.follow", notification_id=notification.id),
    )
    found.task = notification.task
    return found


def digest_mail(user, counts, day):
    """One e-mail for a day's notices: how many of each kind, and the link to the list."""
    lines = [
        f"{count} {KINDS[kind].digest[0 if count == 1 else 1]}"
        for kind, count in sorted(counts.items(), key=lambda item: list(KINDS).index(item[0]))
    ]
    return _mail(
        f"digest:{user.id}:{day}",
        user,
        "Votre résumé quotidien Parcours",
        "digest",
        lines=lines,
        link=external_url("notifications.index"),
    )


def enqueue_notices(pairs):
    """Queue the e-mails of (notification, recipient) pairs, in one insert; a notice queued
    already (its key) is not queued twice."""
    documents = [notice_mail(n, person).to_mongo() for n, person in pairs]
    if not documents:
        return
    try:
        OutgoingMail._get_collection().insert_many(documents, ordered=False)
    except BulkWriteError as error:
        if any(e.get("code") != 11000 for e in error.details.get("writeErrors", [])):
            raise
