"""Sending the queued e-mails through SMTP, with retries: nothing is lost when the server is
down, nothing is sent twice by two workers.

`deliver_due` takes one due mail at a time with a lease (one atomic update that succeeds only
when nobody holds it, as app.pathways.worker does for timers), sends it, and marks it sent
under the same lease. A failed attempt moves the next one later and later (exponential
back-off: MAIL_RETRY_SECONDS × 4^(attempt − 1), at most 6 hours); after MAIL_MAX_ATTEMPTS the
mail is `failed` and listed for the platform admins. A server that cannot be reached ends the
round: the other mails wait, without losing an attempt, for the next one. A recipient the
server refuses for good (5xx) fails at once: retrying would not change the answer.
"""

import contextlib
import logging
import smtplib
import ssl
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate
from functools import partial

from flask import current_app

from app import db
from app.clock import utcnow
from app.notifications.models import OutgoingMail
from app.pathways.worker import worker_name

LEASE = timedelta(minutes=2)
MAX_DELAY = timedelta(hours=6)
TIMEOUT = 20  # seconds, for each SMTP exchange
log = logging.getLogger(__name__)


class ServerUnavailable(Exception):
    """The SMTP server could not be reached or refused the session: retry later."""


# Write what became of a leased mail, if `owner` still holds it, and let it go.
_finish = partial(db.release, OutgoingMail)


def retry_delay(attempts, base_seconds):
    """How long to wait after the `attempts`-th failed try: 1 min, 4, 16, 64, 4 h 16, 6 h…"""
    return min(timedelta(seconds=base_seconds * 4 ** (attempts - 1)), MAX_DELAY)


def build_message(mail, config):
    message = EmailMessage()
    message["Subject"] = mail.subject
    message["From"] = config["MAIL_FROM"]
    message["To"] = mail.to
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = mail.message_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no automatic replies
    if mail.unsubscribe:
        message["List-Unsubscribe"] = f"<{mail.unsubscribe}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(mail.text or "")
    if mail.html:
        message.add_alternative(mail.html, subtype="html")
    return message


class SmtpSession:
    """One SMTP connection for a round, opened at the first mail."""

    def __init__(self, config):
        self.config, self.smtp = config, None

    def _open(self):
        config = self.config
        host, port = config["SMTP_HOST"], config["SMTP_PORT"]
        try:
            if port == 465:  # implicit TLS ("SMTPS")
                smtp = smtplib.SMTP_SSL(host, port, timeout=TIMEOUT,
                                        context=ssl.create_default_context())  # fmt: skip
            else:
                smtp = smtplib.SMTP(host, port, timeout=TIMEOUT)
                if config["SMTP_TLS"]:
                    smtp.starttls(context=ssl.create_default_context())
            if config["SMTP_USER"]:
                smtp.login(config["SMTP_USER"], config["SMTP_PASSWORD"])
        except (OSError, smtplib.SMTPException) as error:
            raise ServerUnavailable(f"{host}:{port} : {error}") from None
        return smtp

    def send(self, message, sender, recipient):
        if self.smtp is None:
            self.smtp = self._open()
        try:
            self.smtp.send_message(message, from_addr=sender, to_addrs=[recipient])
        except smtplib.SMTPServerDisconnected as error:
            self.smtp = None
            raise ServerUnavailable(str(error)) from None
        except smtplib.SMTPException:  # an answer about this mail (an OSError too)
            raise
        except OSError as error:  # the connection broke
            self.smtp = None
            raise ServerUnavailable(str(error)) from None

    def close(self):
        if self.smtp is not None:
            with contextlib.suppress(OSError):  # SMTPException is an OSError
                self.smtp.quit()
            self.smtp = None


def _permanent(error):
    """A refusal that a retry would meet again: the recipient or the content refused (5xx)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    return isinstance(error, smtplib.SMTPDataError) and error.smtp_code >= 500


def _failed(mail, owner, now, error, permanent, config):
    attempts = mail.attempts + 1
    reason = f"{type(error).__name__} : {error}"[:500]
    if permanent or attempts >= config["MAIL_MAX_ATTEMPTS"]:
        _finish(mail, owner, set__status="failed", set__attempts=attempts,
                set__last_error=reason, set__failed_at=utcnow())  # fmt: skip
        log.warning("e-mail %s failed after %s attempt(s): %s", mail.key, attempts, reason)
        return
    delay = retry_delay(attempts, config["MAIL_RETRY_SECONDS"])
    _finish(mail, owner, set__attempts=attempts, set__last_error=reason,
            set__next_attempt_at=now + delay)  # fmt: skip


def _task_closed(mail):
    from app.pathways.models import Task

    if mail.task is None:
        return False
    return not Task.objects(id=mail.task, status="open").limit(1).count(True)


def deliver_due(now=None, owner=None):
    """Send the e-mails due at `now` (default: the clock); returns how many were sent.

    Nothing happens without SMTP_HOST: the mails wait in the queue."""
    config = current_app.config
    if not config["SMTP_HOST"]:
        return 0
    now, owner = now or utcnow(), owner or worker_name()
    sent, share = 0, config["WORKER_QUEUE_SECONDS"]
    session = SmtpSession(config)
    try:
        for mail in db.leased_due(OutgoingMail, now, owner, LEASE, share):
            if _task_closed(mail):  # done meanwhile: the notice would only be noise
                _finish(mail, owner, set__status="dropped")
                continue
            try:
                session.send(build_message(mail, config), config["MAIL_FROM"], mail.to)
            except ServerUnavailable as error:
                _failed(mail, owner, now, error, False, config)
                log.warning("SMTP server unavailable, delivery paused: %s", error)
                break
            except smtplib.SMTPException as error:
                _failed(mail, owner, now, error, _permanent(error), config)
                continue
            # Sent: the bodies are no longer needed, only the trace that it went.
            _finish(mail, owner, set__status="sent", set__sent_at=utcnow(), unset__text=True,
                    set__attempts=mail.attempts + 1, unset__html=True)  # fmt: skip
            sent += 1
    finally:
        session.close()
    return sent
