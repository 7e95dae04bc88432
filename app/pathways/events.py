"""BPMN messages sent to a dossier from outside (e.g. "sortie_hospitalisation" from a
hospital's software): they reach the dossier's instances waiting for them, and start the
pathways whose start event is that message."""

from mongoengine.queryset.visitor import Q

from app import audit, policy
from app.dossiers import timeline
from app.engine.runtime import EngineError, Runtime
from app.pathways import steps
from app.pathways.models import Pathway, PathwayInstance, PathwayVersion
from app.validation import InvalidInput

EVENT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": r"^[\w.:-]+$"},
        "payload": {"type": "object"},
    },
}


def _versions(instances):
    """The PathwayVersion of each instance, in one query."""
    pairs = {(i.pathway, i.version) for i in instances}
    if not pairs:
        return {}
    query = Q()
    for pathway, number in pairs:
        query |= Q(pathway=pathway, version=number)
    found = PathwayVersion.objects(query).exclude("bpmn")
    return {(v.pathway, v.version): v for v in found}


def deliver_event(actor, dossier, name, payload):
    """Deliver the message `name` to `dossier`; returns {"caught": [ids], "started": [ids]}.

    The pathways it starts are run first, in memory: one that cannot start refuses the
    message before anything is written. A waiting instance whose step fails goes to error (the
    others go on); what was delivered is audited whatever fails after."""
    policy.require(actor, "pathway.event", dossier)
    waiting = list(PathwayInstance.objects(dossier=dossier.id, status__in=["running", "waiting"]))
    # A pathway already running on the dossier is not started twice (the message came too
    # early or too late for it: BPMN drops it, and the answer says nobody caught it).
    # Only the pathways that may run on this dossier: a patient pathway of the platform or
    # of its coordinating structure (never a platform process, nor another structure's).
    running = {i.pathway for i in waiting}
    starting = [
        begun
        for pathway in Pathway.objects(start_messages=name)
        if pathway.key not in running
        and policy.can(actor, "pathway.start_by_event", (dossier, pathway))
        and (begun := _begin(pathway, name, payload)) is not None
    ]
    versions = _versions(waiting)
    caught, started = [], []
    try:
        for instance in waiting:
            version = versions.get((instance.pathway, instance.version))
            if version is None or name not in version.summary.get("messages", {}).get("catch", []):
                continue  # this version waits for no such message: no need to load its state
            if _send(actor, dossier, instance, name, payload):
                caught.append(instance)
        for version, engine in starting:
            started.append(steps.create(actor, dossier, version, engine))
        if caught or started:
            timeline.append(actor, dossier, "pathway", f"Message « {name} » reçu par un parcours")
    finally:
        audit.record(
            actor,
            "pathway.event",
            dossier,
            dossier=str(dossier.id),
            message=name,
            caught=[str(i.id) for i in caught],
            started=[str(i.id) for i in started],
        )
    return {"caught": [str(i.id) for i in caught], "started": [str(i.id) for i in started]}


def deliver_to_subject(actor, subject, name, payload):
    """Deliver the message `name` to the platform processes running on `subject` (the
    answer of an account's requester…); returns the ids of the instances that caught it."""
    policy.require(actor, "pathway.manage", None)
    waiting = PathwayInstance.objects(subject=subject, status__in=["running", "waiting"])
    return [str(i.id) for i in waiting if _send(actor, None, i, name, payload)]


def _send(actor, dossier, instance, name, payload):
    """Whether the instance caught the message (a failed step leaves it in error)."""
    result = steps.apply(
        instance,
        dossier,
        lambda engine: engine.send_message(name, payload),
        actor=actor,
        pending={"op": "message", "name": name, "payload": payload},
        write_if=lambda result: result["caught"],
    )
    return result is not None


def _begin(pathway, name, payload):
    """(version, engine) of `pathway` started by the message, in memory (nothing written);
    None if its start ignores it."""
    version = PathwayVersion.objects(pathway=pathway.key, version=pathway.latest_version).first()
    try:
        engine = Runtime.for_version(version).start({}, message=(name, payload))
    except EngineError as error:
        raise InvalidInput({"/name": error.message}, error.message) from None
    if not engine.start_result["caught"]:
        return None
    return version, engine
