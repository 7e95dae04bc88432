"""Secrets kept in the database encrypted with a key derived from SECRET_KEY (Fernet): a
copy of the database alone gives neither the TOTP secrets nor the MSSanté mailboxes'
passwords and keys. Changing SECRET_KEY makes them unreadable (README, "Configuration").
Keyed digests stand for what must be recognised but not kept (what an identity search
looked for, in the audit trail)."""

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


def _box():
    derive = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"parcours-sealed")
    key = derive.derive(current_app.config["SECRET_KEY"].encode())
    return Fernet(base64.urlsafe_b64encode(key))


def seal(text):
    return _box().encrypt(text.encode()).decode() if text else None


def unseal(token, legacy=None):
    """The clear text; "" when absent or when SECRET_KEY changed since it was sealed. A
    value stored in clear before sealing existed, recognised by `legacy` (a predicate), is
    returned as it is."""
    if not token:
        return ""
    try:
        return _box().decrypt(token.encode()).decode()
    except InvalidToken:
        return token if legacy is not None and legacy(token) else ""


def keyed_digest(text, purpose):
    """A digest of `text` under a key derived from SECRET_KEY for `purpose`: it tells two
    equal texts apart from others without holding them, and, unlike a plain hash, cannot be
    reversed by trying every likely text (a name and a birth date) without the key."""
    derive = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                  info=f"parcours-digest:{purpose}".encode())  # fmt: skip
    key = derive.derive(current_app.config["SECRET_KEY"].encode())
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:32]
