"""The CGU: the current version, publishing a new one, accepting it."""

import time
from pathlib import Path

from flask import current_app, g
from mongoengine.errors import NotUniqueError

from app import audit, policy
from app.accounts.models import User
from app.errors import Conflict
from app.terms.models import MAX_TEXT, TermsAcceptance, TermsVersion
from app.validation import check

PUBLISH = {
    "type": "object",
    "additionalProperties": False,
    "required": ["text"],
    "properties": {
        "text": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT, "pattern": r"\S"},
        "summary": {"type": "string", "maxLength": 500},
    },
}
CACHE_FOR = 30  # seconds
OUTDATED = "Une nouvelle version des conditions d'utilisation vient d'être publiée : lisez-la."


def current():
    """The latest version, or None before the first is published. Every page asks: it is
    kept by the process for CACHE_FOR seconds (a version another process publishes is asked
    for within that time; one published here, at once)."""
    if "terms_current" not in g:
        cache = current_app.extensions.setdefault("terms_cache", {})
        if not cache or time.monotonic() - cache["at"] > CACHE_FOR:
            # Few documents: the sort reads them all, which is nothing.
            latest = TermsVersion.objects.order_by("-version").first()
            cache.update(at=time.monotonic(), version=latest)
        g.terms_current = cache["version"]
    return g.terms_current


def must_accept(user):
    """The version `user` must accept before anything else, or None."""
    latest = current()
    if latest is None or (user.terms_version or 0) >= latest.version:
        return None
    return latest


def versions(actor):
    policy.require(actor, "terms.publish")
    return list(TermsVersion.objects.order_by("-version"))


def publish(actor, data):
    """A new version: everyone is asked to accept it at their next page."""
    policy.require(actor, "terms.publish")
    data = check(PUBLISH, data)
    latest = current()
    published = TermsVersion(
        version=(latest.version if latest else 0) + 1,
        text=data["text"].strip(),
        summary=(data.get("summary") or "").strip() or None,
        published_by=getattr(actor, "id", None),
    )
    try:
        published.save(force_insert=True)
    except NotUniqueError:
        raise Conflict("Une autre version vient d'être publiée : rechargez la page.") from None
    g.terms_current = published
    current_app.extensions["terms_cache"] = {"at": time.monotonic(), "version": published}
    audit.record(actor, "terms.publish", published, version=published.version)
    return published


def accept(actor, version):
    """`actor` accepts `version`, which must be the current one (a page left open while a
    newer one was published accepts nothing)."""
    latest = current()
    if latest is None or str(version) != str(latest.version):
        raise Conflict(OUTDATED)
    try:
        TermsAcceptance(user=actor.id, version=latest.version).save(force_insert=True)
    except NotUniqueError:
        return latest  # accepted twice (two tabs): once is enough
    User.objects(id=actor.id).update_one(set__terms_version=latest.version)
    actor.terms_version = latest.version
    audit.record(actor, "terms.accept", latest, version=latest.version)
    return latest


SHIPPED = Path(__file__).with_name("cgu_v1.txt")


def publish_shipped():
    """The first version, shipped with Parcours, when none is published yet (`parcours
    install`, the demo); returns it, or None if there was one already."""
    if current() is not None:
        return None
    return publish(policy.SYSTEM, {"text": SHIPPED.read_text(encoding="utf-8"),
                                   "summary": "Première version"})  # fmt: skip
