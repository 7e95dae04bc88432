"""The mailbox password and private key, encrypted at rest with a key derived from the
application's SECRET_KEY: a copy of the database alone does not open the mailboxes."""

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


def _box():
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"parcours-mss").derive(
        current_app.config["SECRET_KEY"].encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def seal(text):
    return _box().encrypt(text.encode()).decode() if text else None


def unseal(token):
    """The clear text; "" when absent or when SECRET_KEY changed since it was sealed."""
    if not token:
        return ""
    try:
        return _box().decrypt(token.encode()).decode()
    except InvalidToken:
        return ""
