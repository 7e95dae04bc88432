"""Which endpoint addresses Parcours may post to: https only, and never a machine of the
platform's own network (a webhook must not become a way to reach internal services).

The host is resolved and every address it gives must be routable on the Internet: checked
when the subscription is made, and again before each attempt (a name may point elsewhere
since). The attempt then connects to the address that was checked, not to a new lookup."""

import ipaddress
import socket
from urllib.parse import urlsplit

from plugins.webhooks.models import MAX_URL_LENGTH

WHY = "Parcours n'envoie les événements qu'à des serveurs joignables sur Internet."


class Refused(Exception):
    """An address Parcours will not post to; the message (French) says why."""


def _kind(ip):
    """What kind of address `ip` is when it is not a public one (French), else None."""
    embedded = getattr(ip, "ipv4_mapped", None) or getattr(ip, "sixtofour", None)
    if embedded is not None:  # ::ffff:10.0.0.1 reaches 10.0.0.1
        ip = embedded
    checks = (
        ("is_unspecified", "non spécifiée"),
        ("is_loopback", "de bouclage (loopback)"),
        ("is_link_local", "lien-local"),
        ("is_multicast", "de multidiffusion (multicast)"),
        ("is_reserved", "réservée"),
        ("is_private", "privée (réseau interne)"),
    )
    for attribute, kind in checks:
        if getattr(ip, attribute):
            return kind
    return None if ip.is_global else "non routable sur Internet"


def check_syntax(url, allow_private=False):
    """The parts of `url` (urlsplit) if its form is acceptable; Refused otherwise."""
    if not url:
        raise Refused("Indiquez l'adresse du logiciel qui recevra les événements.")
    if len(url) > MAX_URL_LENGTH:
        raise Refused("L'adresse dépasse 2 000 caractères.")
    if any(char.isspace() or ord(char) < 32 or ord(char) == 127 for char in url):
        raise Refused("L'adresse ne doit contenir ni espace ni caractère de contrôle.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refused("L'adresse n'est pas valide (port ou crochets incorrects).") from None
    if parts.scheme == "http" and not allow_private:
        raise Refused("L'adresse doit commencer par https:// : les événements partent chiffrés.")
    if parts.scheme not in ("https", "http"):
        raise Refused("Seules les adresses https:// sont acceptées.")
    if parts.username is not None or parts.password is not None:
        raise Refused(
            "L'adresse ne doit pas contenir d'identifiant ni de mot de passe : votre logiciel "
            "authentifie Parcours par la signature des envois."
        )
    if not parts.hostname:
        raise Refused("L'adresse n'indique pas de serveur.")
    if port == 0:
        raise Refused("L'adresse n'est pas valide (port ou crochets incorrects).")
    return parts


def resolve(parts, allow_private=False):
    """The addresses the host of `parts` resolves to, all public (unless `allow_private`);
    Refused names the first that is not, or a name that does not resolve."""
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise Refused(f"Le serveur « {host} » est introuvable (nom inconnu).") from None
    addresses = list(dict.fromkeys(info[4][0] for info in found))
    if not addresses:
        raise Refused(f"Le serveur « {host} » est introuvable (nom inconnu).")
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # fe80::1%eth0: its scope apart
        kind = None if allow_private else _kind(ip)
        if kind is not None:
            if address == host.strip("[]"):
                raise Refused(f"« {host} » est une adresse {kind} : {WHY}")
            raise Refused(f"« {host} » désigne {address}, une adresse {kind} : {WHY}")
    return addresses


def check(url, allow_private=False):
    """(parts, addresses) of an acceptable `url`; Refused with the reason otherwise."""
    parts = check_syntax(url, allow_private)
    return parts, resolve(parts, allow_private)
