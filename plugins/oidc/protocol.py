"""The OpenID Connect conversation with the provider, and nothing else.

Discovery from the issuer; the authorization request (code flow, PKCE S256, state and nonce)
and the code exchange with Authlib's OAuth2Session; the ID token checked with joserfc (the
JOSE library Authlib itself uses) against the keys the provider publishes, then its claims
with Authlib's CodeIDToken (iss, aud, exp, iat, nonce, at_hash, azp); the userinfo claims.
What the claims mean to Parcours is services.py's business."""

import hmac
import re
import secrets
import time
from urllib.parse import urlencode

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import ClaimError, ExpiredTokenError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from app.clock import utcnow
from app.errors import ServiceError
from plugins.oidc.settings import allowed_url

TIMEOUT = 10  # seconds for each request to the provider
SIGN_OUT_TIMEOUT = 3  # seconds a sign-out may wait for the provider's discovery document
PENDING_WITHIN = 10 * 60  # seconds between leaving for the provider and coming back
METADATA_TTL = 3600  # discovery and keys are read again after this (the provider rotates keys)
# Signatures by the provider's published keys only: never "none", nor an HMAC over our secret.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
# Per issuer, for every app of the process: {"at": monotonic time, "metadata": …, "jwks": …}.
_providers = {}

UNKNOWN_STATE = (
    "Cette réponse de {name} ne correspond à aucune connexion en cours dans ce navigateur, ou "
    "elle a déjà servi. Recommencez depuis la page de connexion."
)
LATE = "La connexion avec {name} a pris trop de temps. Recommencez depuis la page de connexion."
CANCELLED = (
    "La connexion avec {name} a été annulée ou refusée : vous n'êtes pas connecté. Vous pouvez "
    "réessayer, ou vous connecter avec votre adresse e-mail et votre mot de passe."
)
PROVIDER_ERROR = "{name} n'a pas accepté la demande de connexion (« {code} ») : recommencez."
NOT_CONFIRMED = "{name} n'a pas confirmé la connexion (code refusé ou expiré) : recommencez."
UNVERIFIED = (
    "La réponse de {name} n'a pas pu être vérifiée (signature, émetteur, destinataire, date "
    "ou nonce) : vous n'êtes pas connecté. Recommencez ; si cela se reproduit, prévenez "
    "l'équipe de la plateforme."
)
UNREACHABLE = (
    "{name} ne répond pas pour le moment : réessayez plus tard, ou connectez-vous avec votre "
    "adresse e-mail et votre mot de passe."
)


class SignInRefused(ServiceError):
    """The sign-in stops here: `message` for the person, `reason` for the audit trail."""

    status = 401
    code = "sign_in_refused"

    def __init__(self, config, message, reason, status=None, **values):
        super().__init__(message.format(name=config["OIDC_NAME"], **values))
        self.reason = reason
        self.status = status or self.status


def provider(config, refresh_keys=False, keys=True, timeout=TIMEOUT):
    """The provider's discovery document and key set, read once an hour (or when a token is
    signed by a key we have not seen: the provider published a new one). `keys` False: the
    discovery document alone is enough."""
    issuer = config["OIDC_ISSUER"].rstrip("/")
    known = _providers.get(issuer)
    if known is None or time.monotonic() - known["at"] > METADATA_TTL:
        document = _get_json(config, f"{issuer}/.well-known/openid-configuration", timeout)
        endpoints = ("authorization_endpoint", "token_endpoint", "jwks_uri")
        usable = all(allowed_url(config, document.get(name)) for name in endpoints)
        # The document must name the issuer we trust (OpenID Connect Discovery §4.3).
        if not usable or str(document.get("issuer", "")).rstrip("/") != issuer:
            raise SignInRefused(config, UNREACHABLE, "discovery", 502)
        known = {"at": time.monotonic(), "metadata": document, "jwks": None}
    if keys and (known["jwks"] is None or refresh_keys):
        known["jwks"] = _get_json(config, known["metadata"]["jwks_uri"])
    _providers[issuer] = known
    return known


def _get_json(config, url, timeout=TIMEOUT):
    try:
        response = requests.get(url, timeout=timeout, headers={"Accept": "application/json"})
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as error:
        raise SignInRefused(config, UNREACHABLE, "provider_unreachable", 502) from error
    if not isinstance(document, dict):
        raise SignInRefused(config, UNREACHABLE, "provider_unreachable", 502)
    return document


def _client(config, redirect_uri):
    return OAuth2Session(
        config["OIDC_CLIENT_ID"],
        config["OIDC_CLIENT_SECRET"],
        scope=config["OIDC_SCOPES"],
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
    )


def authorization_request(config, redirect_uri):
    """The provider's address to send the browser to, and what its return must match (to
    keep in the session, for one use)."""
    endpoint = provider(config)["metadata"]["authorization_endpoint"]
    pending = {
        "state": secrets.token_urlsafe(32),
        "nonce": secrets.token_urlsafe(32),
        "verifier": secrets.token_urlsafe(64),  # 86 characters: PKCE asks for 43 to 128
        "at": int(utcnow().timestamp()),
    }
    extra = {"acr_values": config["OIDC_ACR_VALUES"]} if config["OIDC_ACR_VALUES"] else {}
    with _client(config, redirect_uri) as client:
        url, _ = client.create_authorization_url(
            endpoint, state=pending["state"], code_verifier=pending["verifier"],
            nonce=pending["nonce"], **extra,
        )  # fmt: skip
    return url, pending


def verified_claims(config, pending, args, redirect_uri):
    """(claims, raw ID token) of the person the provider sends back (`args`: the callback's
    query), once the return matches `pending`, the code is exchanged and the ID token is
    verified; the userinfo claims are added (Pro Santé Connect gives its attributes there)."""
    _check_return(config, pending, args)
    known = provider(config)
    # RFC 9207: a provider that names itself in the answer must be the one we asked.
    if args.get("iss", known["metadata"]["issuer"]) != known["metadata"]["issuer"]:
        raise SignInRefused(config, UNVERIFIED, "claim_iss")
    with _client(config, redirect_uri) as client:
        try:
            token = client.fetch_token(
                known["metadata"]["token_endpoint"], grant_type="authorization_code",
                code=args["code"], code_verifier=pending["verifier"], timeout=TIMEOUT,
            )  # fmt: skip
        except OAuthError as error:
            raise SignInRefused(config, NOT_CONFIRMED, f"token_{error.error}") from error
        except (requests.RequestException, ValueError) as error:
            raise SignInRefused(config, UNREACHABLE, "provider_unreachable", 502) from error
        claims = _id_token_claims(config, known, token, pending["nonce"])
        return {**_userinfo(config, client, known, claims["sub"]), **claims}, token["id_token"]


def end_session_url(config, id_token, post_logout_redirect_uri):
    """Where to send the browser so that the provider's session ends too (OpenID Connect
    RP-Initiated Logout), or None: a provider without an end-session endpoint, or one that
    does not answer within SIGN_OUT_TIMEOUT (the discovery document is read once an hour)."""
    try:
        known = provider(config, keys=False, timeout=SIGN_OUT_TIMEOUT)
    except SignInRefused:
        return None
    endpoint = known["metadata"].get("end_session_endpoint")
    if not isinstance(endpoint, str) or not allowed_url(config, endpoint):
        return None
    query = urlencode({"id_token_hint": id_token, "client_id": config["OIDC_CLIENT_ID"],
                       "post_logout_redirect_uri": post_logout_redirect_uri})  # fmt: skip
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


def _check_return(config, pending, args):
    state = args.get("state", "").encode()
    if not pending or not hmac.compare_digest(state, pending["state"].encode()):
        raise SignInRefused(config, UNKNOWN_STATE, "state", 400)
    if utcnow().timestamp() - pending["at"] > PENDING_WITHIN:
        raise SignInRefused(config, LATE, "late", 400)
    if args.get("error"):
        code = re.sub(r"[^a-z_]", "", args["error"])[:40] or "error"
        message = CANCELLED if code == "access_denied" else PROVIDER_ERROR
        raise SignInRefused(config, message, f"provider_{code}", code=code)
    if not args.get("code"):
        raise SignInRefused(config, UNKNOWN_STATE, "no_code", 400)


def _decode(config, known, raw):
    """The JWT `raw` signed by one of the provider's keys, else SignInRefused."""
    metadata = known["metadata"]
    offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
    algorithms = [alg for alg in offered if alg in ALGORITHMS]
    try:
        try:
            return jwt.decode(raw, KeySet.import_key_set(known["jwks"]), algorithms)
        except InvalidKeyIdError:  # a key published since we read the set
            fresh = provider(config, refresh_keys=True)
            return jwt.decode(raw, KeySet.import_key_set(fresh["jwks"]), algorithms)
    except (JoseError, ValueError, TypeError) as error:
        raise SignInRefused(config, UNVERIFIED, "signature") from error


def _id_token_claims(config, known, token, nonce):
    if not token.get("id_token"):
        raise SignInRefused(config, UNVERIFIED, "no_id_token")
    decoded = _decode(config, known, token["id_token"])
    client_id = config["OIDC_CLIENT_ID"]
    claims = CodeIDToken(
        decoded.claims,
        decoded.header,
        options={
            "iss": {"essential": True, "value": known["metadata"]["issuer"]},
            "aud": {"essential": True, "value": client_id},
        },
        params={"nonce": nonce, "client_id": client_id, "access_token": token.get("access_token")},
    )
    try:
        claims.validate(now=int(utcnow().timestamp()), leeway=config["OIDC_CLOCK_SKEW"])
    except ExpiredTokenError as error:
        raise SignInRefused(config, UNVERIFIED, "expired") from error
    except ClaimError as error:
        raise SignInRefused(config, UNVERIFIED, f"claim_{error.claim}") from error
    return dict(claims)


def _userinfo(config, client, known, subject):
    """The userinfo claims (JSON, or a JWT signed by the provider), about the same person as
    the ID token (OpenID Connect Core §5.3.2); none when the provider has no such endpoint."""
    endpoint = known["metadata"].get("userinfo_endpoint")
    if not endpoint or not client.token.get("access_token"):
        return {}
    if not allowed_url(config, endpoint):
        raise SignInRefused(config, UNREACHABLE, "discovery", 502)
    try:
        response = client.get(endpoint, timeout=TIMEOUT)
        response.raise_for_status()
        signed = response.headers.get("Content-Type", "").startswith("application/jwt")
        info = _decode(config, known, response.text).claims if signed else response.json()
    except (requests.RequestException, ValueError, OAuthError) as error:
        raise SignInRefused(config, UNREACHABLE, "provider_unreachable", 502) from error
    if not isinstance(info, dict) or info.get("sub") != subject:
        raise SignInRefused(config, UNVERIFIED, "userinfo_subject")
    return info
