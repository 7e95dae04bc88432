"""The wire to a structure's MSSanté operator: SMTP submission and IMAP reading, both over
STARTTLS with the structure's client certificate (the operators authenticate the
platform by it), the server's certificate verified."""

import imaplib
import os
import smtplib
import ssl
import tempfile
from contextlib import contextmanager, suppress

from flask import current_app

from app.sealing import unseal


def tls_context(settings):
    """A client TLS context: the operator's authority (or the system's), and the client
    certificate. ssl loads a key only from a file: it lives in a private temporary file
    for the time it takes to load it."""
    context = ssl.create_default_context(cadata=settings.ca or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    key = unseal(settings.private_key)
    if settings.certificate and key:
        descriptor, path = tempfile.mkstemp(prefix="mss-", suffix=".pem")
        try:
            with os.fdopen(descriptor, "w") as handle:  # created 0600
                handle.write(settings.certificate.strip() + "\n" + key.strip() + "\n")
            context.load_cert_chain(path)
        finally:
            os.unlink(path)
    return context


def timeout():
    return current_app.config.get("MSS_TIMEOUT", 30)


def send(settings, message):
    """Submit one email.message.EmailMessage; raises smtplib/OSError errors as they come."""
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout()) as smtp:
        smtp.starttls(context=tls_context(settings))
        password = unseal(settings.password)
        if password:
            smtp.login(settings.login, password)
        smtp.send_message(message)


@contextmanager
def mailbox(settings):
    """The structure's INBOX, selected (read-write: the mails are marked seen once filed)."""
    imap = imaplib.IMAP4(settings.imap_host, settings.imap_port, timeout=timeout())
    try:
        imap.starttls(ssl_context=tls_context(settings))
        imap.login(settings.login, unseal(settings.password))
        status, _ = imap.select("INBOX")
        if status != "OK":
            raise imaplib.IMAP4.error("INBOX cannot be selected")
        yield imap
    finally:
        with suppress(imaplib.IMAP4.error, OSError):
            imap.logout()
