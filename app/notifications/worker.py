"""What `parcours worker` does for notifications at each round: tell the people of the tasks
that just became late, queue the daily digests, send the queued e-mails, forget what is old."""

from datetime import timedelta

from flask import current_app

from app.clock import utcnow
from app.notifications import listeners
from app.notifications.delivery import deliver_due
from app.notifications.digest import send_digests

BATCH = 500  # late tasks handled per round; the next round takes the rest
# What is kept: read notices for a year (the list pages back through them), the envelopes of
# e-mails sent or given up for 90 days (the failed list shows the recent ones).
READ_NOTICES_KEPT = timedelta(days=365)
MAIL_KEPT = timedelta(days=90)
RATES_KEPT = timedelta(hours=2)  # the hourly counts of notices (services.notify's cap)


def notify_overdue(now=None):
    """Tell once the people of each open task whose due date passed; returns how many tasks.

    The task is marked first, with a condition that only one worker meets."""
    from app.dossiers.services import find
    from app.errors import NotFound
    from app.pathways.models import Task

    now = now or utcnow()
    late = Task.objects(status="open", overdue_notified_at=None, due_at__lte=now).limit(BATCH)
    told = 0
    for task in list(late):
        if not Task.objects(id=task.id, overdue_notified_at=None).update_one(
            set__overdue_notified_at=now
        ):
            continue  # another worker has it
        try:
            dossier = find(task.dossier) if task.dossier else None
        except NotFound:
            continue
        listeners.task_overdue(task, dossier)
        told += 1
    return told


def forget_old(now=None):
    """Delete the read notices and the finished e-mails past their keeping time (an unread
    notice stays: its counter counts it); returns how many documents went."""
    from app.notifications.models import Notification, NotificationRate, OutgoingMail
    from app.notifications.services import EPOCH

    now = now or utcnow()
    notices = Notification._get_collection().delete_many(
        {"read_at": {"$lt": now - READ_NOTICES_KEPT}}
    )
    # The hourly counts of past hours (a range bounded on both sides, on its index).
    rates = NotificationRate._get_collection().delete_many(
        {"hour": {"$gte": EPOCH, "$lt": now - RATES_KEPT}}
    )
    # One delete per status, each on the (status, created_at) index: with $in the embedded
    # server reads every document of those statuses, whatever the range (README, "Queries").
    mails = OutgoingMail._get_collection()
    gone = sum(
        mails.delete_many({"status": status, "created_at": {"$lt": now - MAIL_KEPT}}).deleted_count
        for status in ("sent", "failed", "cancelled", "dropped")
    )
    return notices.deleted_count + gone + rates.deleted_count


def run_round(now=None, owner=None):
    """One round: returns {"overdue", "digests", "sent", "forgotten"} (counts)."""
    # A fresh application context per round: what services keep for one request in `g`
    # (structures, directory ids) must not outlive the round in a long-running worker.
    with current_app.app_context():
        return {
            "overdue": notify_overdue(now),
            "digests": send_digests(now),
            "sent": deliver_due(now, owner),
            "forgotten": forget_old(now),
        }
