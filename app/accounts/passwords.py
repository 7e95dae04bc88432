"""Password hashing with Argon2id, and the rules a new password must meet."""

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

from app.validation import InvalidInput

MIN_LENGTH = 12
MIN_SCORE = 3  # zxcvbn's 0-4: 3 resists an offline attack on a slow hash for years
# zxcvbn refuses a longer password (its matching grows faster than the length): a longer one is
# judged on its first 72 characters, which must be strong on their own.
ESTIMATED_LENGTH = 72

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


def check_new_password(password, email="", name="", pointer="/password"):
    """The rules of a new password (at least 12 characters, not a common or guessable one,
    not the e-mail or the name); InvalidInput at `pointer` with a French message."""
    message = None
    email = (email or "").lower()
    local = email.partition("@")[0]
    if len(password) < MIN_LENGTH:
        message = f"Le mot de passe doit compter au moins {MIN_LENGTH} caractères."
    elif email and (email in password.lower() or (len(local) >= 4 and local in password.lower())):
        message = "Le mot de passe ne doit pas contenir votre adresse e-mail."
    elif (
        zxcvbn(password[:ESTIMATED_LENGTH], user_inputs=[email, local, name or ""])["score"]
        < MIN_SCORE
    ):
        message = (
            "Ce mot de passe est trop courant ou trop facile à deviner : allongez-le, par "
            "exemple avec plusieurs mots qui n'ont rien à voir entre eux."
        )
    if message:
        raise InvalidInput({pointer: message}, message)
