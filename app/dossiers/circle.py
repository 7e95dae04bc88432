"""The circle of care: members, the professionals the patient refuses, join requests, consent.

Writes that must not race (adding a member the patient just refused, deciding a request
twice) are conditional updates: the condition is checked by the database with the write.
"""

import contextlib

from bson import ObjectId

from app import audit, policy, signals
from app.accounts.models import User
from app.clock import today, utcnow
from app.directory.models import Professional
from app.dossiers import schemas, timeline
from app.dossiers.models import CareMember, Dossier, Exclusion, JoinRequest
from app.errors import Conflict, NotFound
from app.reference import CARE_ROLES
from app.validation import InvalidInput, check

REFUSED = "L'usager a refusé ce professionnel : il ne peut pas rejoindre le cercle de soins."
ALREADY = "Cette personne fait déjà partie du cercle de soins."
NO_PERSON = "Indiquez un utilisateur ou un professionnel de l'annuaire."
UNKNOWN_PERSON = "Ce professionnel n'existe pas."


def _person(data):
    """(user, professional, name, profession) named by data["user"] or data["professional"].
    A directory entry linked to an account counts as the account."""
    if ("user" in data) == ("professional" in data):
        raise InvalidInput({"/user": NO_PERSON}, NO_PERSON)
    if "professional" in data:
        professional = Professional.objects(id=ObjectId(data["professional"])).first()
        if professional is None:
            raise InvalidInput({"/professional": UNKNOWN_PERSON}, UNKNOWN_PERSON)
        if professional.user is None:
            return None, professional, professional.name, professional.profession
        data = {"user": str(professional.user)}
    user = User.objects(id=ObjectId(data["user"])).first()
    if user is None or user.status == "suspended":
        raise InvalidInput({"/user": UNKNOWN_PERSON}, UNKNOWN_PERSON)
    return user, None, user.name, user.profession


def _excluded(dossier, user, professional):
    if user is not None:
        return policy.is_excluded(user, dossier)
    return dossier.excludes(professional_id=professional.id)


def add_member(actor, dossier, data):
    policy.require(actor, "dossier.manage_members", dossier)
    return _add(actor, dossier, data)


def join_for_task(actor, dossier, care_role):
    """A candidate who took a pathway task joins the circle with the task's role (the
    coordinating structure offered it to them); nothing if they are already in it, or if the
    lane is no care role (the task is already theirs: nothing may fail after that)."""
    if care_role in CARE_ROLES and dossier.member_for(actor.id) is None:
        with contextlib.suppress(Conflict):
            _add(actor, dossier, {"user": str(actor.id), "care_role": care_role})


def _add(actor, dossier, data):
    data = check(schemas.MEMBER_ADD, data)
    user, professional, name, profession = _person(data)
    if data.get("until") and data["until"] < data.get("since", today()):
        raise InvalidInput({"/until": "La date de fin précède la date de début."})
    if _excluded(dossier, user, professional):
        raise InvalidInput({"/user": REFUSED}, REFUSED)
    member = CareMember(
        user=user.id if user else None,
        professional=professional.id if professional else None,
        name=name,
        profession=profession,
        care_role=data["care_role"],
        since=data.get("since", today()),
        until=data.get("until"),
        added_by=str(actor.id),
    )
    # The database checks, with the write, that the person is neither in the circle nor
    # refused: a refusal recorded meanwhile wins.
    if user is not None:
        condition = {"members.user": {"$ne": user.id}, "exclusions.user": {"$ne": user.id}}
        change = {"$push": {"members": member.to_mongo()}, "$addToSet": {"member_users": user.id}}
    else:
        condition = {
            "members.professional": {"$ne": professional.id},
            "exclusions.professional": {"$ne": professional.id},
        }
        change = {"$push": {"members": member.to_mongo()}}
    done = Dossier._get_collection().update_one({"_id": dossier.id, **condition}, change)
    if not done.modified_count:
        dossier.reload()
        if _excluded(dossier, user, professional):
            raise InvalidInput({"/user": REFUSED}, REFUSED)
        raise Conflict(ALREADY, fields={"/user": ALREADY})
    dossier.reload()
    audit.record(
        actor,
        "dossier.member.add",
        dossier,
        dossier=str(dossier.id),
        member=str(member.id),
        care_role=member.care_role,
        user=str(user.id) if user else None,
        professional=str(professional.id) if professional else None,
    )
    timeline.append(
        actor,
        dossier,
        "member",
        f"{name} rejoint le cercle de soins ({CARE_ROLES[member.care_role]})",
    )
    signals.member_added.send(actor, dossier=dossier, member=member)
    return member


def _member(dossier, member_id):
    member = next((m for m in dossier.members if str(m.id) == str(member_id)), None)
    if member is None:
        raise NotFound("Ce membre n'existe pas dans ce cercle de soins.")
    return member


def _pull(dossier, member, **extra):
    change = {"$pull": {"members": {"id": member.id}}}
    if member.user is not None:
        change["$pull"]["member_users"] = member.user
        if dossier.referent == member.user:
            change["$unset"] = {"referent": ""}
    for operator, values in extra.items():
        change.setdefault(operator, {}).update(values)
    Dossier._get_collection().update_one({"_id": dossier.id}, change)
    dossier.reload()


def remove_member(actor, dossier, member_id):
    policy.require(actor, "dossier.manage_members", dossier)
    member = _member(dossier, member_id)
    _pull(dossier, member)
    audit.record(
        actor,
        "dossier.member.remove",
        dossier,
        dossier=str(dossier.id),
        member=str(member.id),
        user=str(member.user) if member.user else None,
    )
    timeline.append(actor, dossier, "member", f"{member.name} quitte le cercle de soins")
    signals.member_removed.send(actor, dossier=dossier, member=member)
    return member


def exclude(actor, dossier, data):
    """Record that the patient refuses a professional: out of the circle, never back in, no
    access through any structure or role."""
    policy.require(actor, "dossier.manage_members", dossier)
    data = check(schemas.PERSON, data)
    user, professional, name, _ = _person(data)
    if _excluded(dossier, user, professional):
        message = "L'usager a déjà refusé ce professionnel."
        raise Conflict(message, fields={"/user": message})
    exclusion = Exclusion(
        user=user.id if user else None,
        professional=professional.id if professional else None,
        name=name,
        reason=data.get("reason"),
        recorded_by=str(actor.id),
    )
    Dossier._get_collection().update_one(
        {"_id": dossier.id}, {"$push": {"exclusions": exclusion.to_mongo()}}
    )
    dossier.reload()
    for member in [m for m in dossier.members if _matches(m, exclusion)]:
        _pull(dossier, member)
    if user is not None:
        JoinRequest.objects(dossier=dossier.id, user=user.id, status="pending").update(
            set__status="refused", set__decided_at=utcnow(), set__reason="Refus de l'usager"
        )
    audit.record(
        actor,
        "dossier.exclusion.add",
        dossier,
        dossier=str(dossier.id),
        user=str(user.id) if user else None,
        professional=str(exclusion.professional) if exclusion.professional else None,
    )
    timeline.append(
        actor,
        dossier,
        "member",
        f"L'usager refuse que {name} intervienne : retiré(e) du cercle de soins",
    )
    signals.member_removed.send(actor, dossier=dossier, member=None)
    return exclusion


def _matches(member, exclusion):
    return (exclusion.user is not None and member.user == exclusion.user) or (
        exclusion.professional is not None and member.professional == exclusion.professional
    )


def withdraw_consent(actor, dossier, data):
    """Sharing stops: members lose access, the coordinating structure's coordinators keep a
    read-only view; the pathways listen to `consent_withdrawn` and suspend."""
    policy.require(actor, "dossier.withdraw_consent", dossier)
    data = check(schemas.CONSENT_WITHDRAW, data)
    if data["date"] > today():
        raise InvalidInput({"/date": "Le retrait ne peut pas être daté du futur."})
    if data["date"] < dossier.consent.date:
        raise InvalidInput({"/date": "Le retrait ne peut pas précéder le recueil du consentement."})
    done = Dossier.objects(id=dossier.id, status="active").update_one(
        set__status="consent_withdrawn",
        set__consent__withdrawn_on=data["date"],
        set__consent__withdrawal_reason=data["reason"],
        set__consent__withdrawn_by=str(actor.id),
        set__consent__withdrawn_by_name=actor.name,
    )
    if not done:
        raise Conflict("Le consentement a déjà été retiré.")
    dossier.reload()
    audit.record(
        actor, "dossier.consent.withdraw", dossier, dossier=str(dossier.id), date=data["date"]
    )
    timeline.append(
        actor, dossier, "consent", f"Consentement retiré le {data['date']} : le partage est arrêté"
    )
    signals.consent_withdrawn.send(actor, dossier=dossier)
    return dossier


# --- join requests ---------------------------------------------------------------------------


def request_join(actor, dossier, data):
    policy.require(actor, "dossier.request_join", dossier)
    data = check(schemas.JOIN_REQUEST, data)
    if JoinRequest.objects(dossier=dossier.id, user=actor.id, status="pending").count():
        raise Conflict("Vous avez déjà une demande en attente pour ce dossier.")
    request = JoinRequest(
        dossier=dossier.id,
        user=actor.id,
        user_name=actor.name,
        care_role=data["care_role"],
        message=data.get("message"),
    )
    request.save(force_insert=True)
    audit.record(actor, "dossier.join.request", request, dossier=str(dossier.id))
    signals.join_requested.send(actor, dossier=dossier, request=request)
    return request


def pending_requests(actor, dossier):
    policy.require(actor, "dossier.manage_members", dossier)
    return list(JoinRequest.objects(dossier=dossier.id, status="pending").order_by("created_at"))


def my_pending_requests(actor, dossier_ids):
    """The ids of the dossiers among `dossier_ids` that `actor` already asked to join."""
    found = JoinRequest.objects(user=actor.id, status="pending", dossier__in=list(dossier_ids))
    return {r.dossier for r in found.only("dossier")}


def decide_join(actor, dossier, request_id, data):
    policy.require(actor, "dossier.manage_members", dossier)
    data = check(schemas.JOIN_DECISION, data)
    request = JoinRequest.objects(id=request_id, dossier=dossier.id).first()
    if request is None:
        raise NotFound("Cette demande n'existe pas.")
    if request.status != "pending":
        raise Conflict("Cette demande a déjà été traitée.")
    if data["decision"] == "accept":
        add_member(actor, dossier, {"user": str(request.user), "care_role": request.care_role})
    status = "accepted" if data["decision"] == "accept" else "refused"
    JoinRequest.objects(id=request.id, status="pending").update_one(
        set__status=status,
        set__decided_by=str(actor.id),
        set__decided_at=utcnow(),
        set__reason=data.get("reason"),
    )
    request.reload()
    audit.record(actor, f"dossier.join.{status}", request, dossier=str(dossier.id))
    return request
