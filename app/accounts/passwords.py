"""Password hashing with Argon2id."""

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Compared against when the e-mail is unknown, so that a miss costs as much as a wrong password.
_DUMMY_HASH = _hasher.hash("parcours-timing-equaliser")


def use_cheap_hashing():
    """Tests only: the cheapest Argon2 parameters, so that the suite stays fast."""
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)
    _DUMMY_HASH = _hasher.hash("parcours-timing-equaliser")


def hash_password(password):
    return _hasher.hash(password)


def verify_password(password_hash, password):
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash):
    return _hasher.check_needs_rehash(password_hash)
