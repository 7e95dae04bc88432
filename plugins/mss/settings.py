"""A structure's MSSanté mailbox settings, set by its admins. The password and the private
key are write-only: the page never shows them, a blank field keeps the stored one."""

import re
import ssl
from datetime import timedelta

from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from app import audit, policy
from app.clock import utcnow
from app.dossiers.services import object_id
from app.errors import NotFound
from app.sealing import seal
from app.structures.models import Structure
from app.validation import InvalidInput
from plugins.mss.models import MssMail, MssMailbox, MssSettings
from plugins.mss.outgoing import check_address

HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}$")
MAX_PEM = 20_000
FIELDS = ("address", "smtp_host", "smtp_port", "imap_host", "imap_port", "login", "password",
          "certificate", "private_key", "ca")  # fmt: skip


def structure_of(actor, structure_id, action="mss.configure"):
    oid = object_id(structure_id)
    structure = Structure.objects(id=oid).first() if oid else None
    if structure is None or not policy.can(actor, action, structure):
        raise NotFound("Cette structure n'existe pas ou vous n'y avez pas accès.")
    return structure


def administered(actor):
    """The structures whose mailbox `actor` may set."""
    ids = [m.structure for m in actor.memberships]
    found = Structure.objects(id__in=ids) if ids else []
    return [s for s in found if policy.can(actor, "mss.configure", s)]


def _port(value, pointer, errors):
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = 0
    if not 1 <= port <= 65535:
        errors[pointer] = "Port attendu entre 1 et 65535."
    return port


def _pem(value, pointer, errors, load):
    value = (value or "").strip()
    if not value:
        return ""
    if len(value) > MAX_PEM:
        errors[pointer] = f"{MAX_PEM} caractères au plus."
        return ""
    try:
        load(value.encode())
    except (ValueError, TypeError, ssl.SSLError):
        errors[pointer] = "Ce n'est pas un certificat ou une clé au format PEM lisible."
    return value


def _check_key(data):
    load_pem_private_key(data, password=None)


def save(actor, structure, data):
    """Check every field, then store; returns the settings."""
    errors, current = {}, MssSettings.objects(structure=structure.id).first()
    values = {name: (data.get(name) or "").strip() for name in FIELDS}
    try:
        values["address"] = check_address(values["address"], "/address")
    except InvalidInput as refused:
        errors.update(refused.fields)
    for name in ("smtp_host", "imap_host"):
        if not HOST.match(values[name]):
            errors[f"/{name}"] = "Nom d'hôte attendu (lettres, chiffres, points, tirets)."
    ports = {n: _port(values[n], f"/{n}", errors) for n in ("smtp_port", "imap_port")}
    if not values["login"] or len(values["login"]) > 254:
        errors["/login"] = "L'identifiant de la boîte est requis (254 caractères au plus)."
    certificate = _pem(
        values["certificate"], "/certificate", errors, x509.load_pem_x509_certificate
    )
    key = _pem(values["private_key"], "/private_key", errors, _check_key)
    ca = _pem(values["ca"], "/ca", errors, x509.load_pem_x509_certificates)
    if certificate and not (key or (current and current.private_key)):
        errors["/private_key"] = "La clé privée du certificat est requise."
    if len(values["password"]) > 500:
        errors["/password"] = "500 caractères au plus."
    if errors:
        raise InvalidInput(errors)
    settings = current or MssSettings(structure=structure.id)
    settings.address, settings.login = values["address"], values["login"]
    settings.smtp_host, settings.imap_host = values["smtp_host"], values["imap_host"]
    settings.smtp_port, settings.imap_port = ports["smtp_port"], ports["imap_port"]
    settings.certificate, settings.ca = certificate or None, ca or None
    if values["password"]:
        settings.password = seal(values["password"])
    if key:
        settings.private_key = seal(key)
    settings.updated_by, settings.updated_at = actor.id, utcnow()
    settings.save()
    audit.record(actor, "mss.configure", settings, structure=str(structure.id),
                 address=settings.address)  # fmt: skip
    return settings


def journal(actor, structure, limit=100):
    """The structure's latest mails (sent and received) and where its mailbox stands."""
    policy.require(actor, "mss.log", structure)
    # Bounded windows back in time: the embedded server reads every match of a sorted,
    # limited query (README, Queries), and a structure's log only grows.
    now, mails = utcnow(), []
    for days in (7, 90, 3650):
        since = now - timedelta(days=days)
        mails = list(MssMail.objects(structure=structure.id, created_at__gte=since))
        if len(mails) >= limit:
            break
    mails.sort(key=lambda m: m.created_at, reverse=True)
    return mails[:limit], MssMailbox.objects(structure=structure.id).first()
