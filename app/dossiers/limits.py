"""One limit, per account, on what shows a dossier's identity to someone who may not be in
it: the identity search, the join page, and the duplicate check when it answers candidates.
Web and API count together (one counter per account), so that neither is a way around the
other; the limit is SEARCH_RATE_LIMIT."""

from flask import current_app

from app.extensions import account_key, limiter

TOO_MANY = (
    "Trop de recherches de dossiers en peu de temps : réessayez plus tard. La recherche sert à "
    "retrouver une personne que vous prenez en charge, pas à parcourir les dossiers."
)


def identity_lookups(**options):
    """The shared limit as a route decorator; `options` as Flask-Limiter's shared_limit
    takes them (methods, exempt_when, deduct_when). On an API route, put it under `route`."""
    return limiter.shared_limit(
        lambda: current_app.config["SEARCH_RATE_LIMIT"],
        scope="dossier-identity",
        key_func=account_key,
        error_message=TOO_MANY,
        **options,
    )
