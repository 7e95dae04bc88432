"""The BPMN modeler in the browser: a new pathway or a new version of one, saved through the
same deployment service as an uploaded file. Its routes join the `pathways` blueprint.

The page itself is bpmn-js (vendored) and app/static/js/pathway-modeler.js, which writes the
extension elements the parser accepts; the save answers JSON for that script."""

from flask import render_template, request, url_for

from app.engine.parser import MAX_BYTES
from app.errors import Conflict, Forbidden, NotFound, json_error
from app.formkit import services as form_services
from app.forms import FORM_ERRORS, acting_user
from app.pathways import services
from app.pathways.views import bp
from app.reference import CARE_ROLES, LANES
from app.structures.services import owner_of
from app.uploads import accepts_uploads

XML_TYPES = {"application/xml", "text/xml", "application/bpmn+xml"}
NEW_KEY = "nouveau_parcours"
# A new pathway: one pool with one lane, start → a first step → end. The step still lacks its
# form, which the designer picks in the properties panel.
STARTER = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
  xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
  xmlns:di="http://www.omg.org/spec/DD/20100524/DI"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
  id="definitions" targetNamespace="https://parcours.example/bpmn">
  <bpmn:collaboration id="collaboration">
    <bpmn:participant id="participant" name="Nouveau parcours" processRef="{NEW_KEY}"/>
  </bpmn:collaboration>
  <bpmn:process id="{NEW_KEY}" name="Nouveau parcours" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_coordinateur" name="coordinateur">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>first_step</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" name="Début">
      <bpmn:outgoing>flow_start</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:sequenceFlow id="flow_start" sourceRef="start" targetRef="first_step"/>
    <bpmn:userTask id="first_step" name="Première étape">
      <bpmn:incoming>flow_start</bpmn:incoming>
      <bpmn:outgoing>flow_end</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="flow_end" sourceRef="first_step" targetRef="end"/>
    <bpmn:endEvent id="end" name="Fin">
      <bpmn:incoming>flow_end</bpmn:incoming>
    </bpmn:endEvent>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="diagram">
    <bpmndi:BPMNPlane id="plane" bpmnElement="collaboration">
      <bpmndi:BPMNShape id="participant_di" bpmnElement="participant" isHorizontal="true">
        <dc:Bounds x="120" y="60" width="600" height="200"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="lane_coordinateur_di" bpmnElement="lane_coordinateur"
        isHorizontal="true">
        <dc:Bounds x="150" y="60" width="570" height="200"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="start_di" bpmnElement="start">
        <dc:Bounds x="212" y="142" width="36" height="36"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="first_step_di" bpmnElement="first_step">
        <dc:Bounds x="330" y="120" width="100" height="80"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="end_di" bpmnElement="end">
        <dc:Bounds x="542" y="142" width="36" height="36"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="flow_start_di" bpmnElement="flow_start">
        <di:waypoint x="248" y="160"/>
        <di:waypoint x="330" y="160"/>
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="flow_end_di" bpmnElement="flow_end">
        <di:waypoint x="430" y="160"/>
        <di:waypoint x="542" y="160"/>
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def _modeler(actor, *, pathway=None, version=None, choices=()):
    forms = [
        {"key": form.key, "title": form.title}
        for form in form_services.list_forms(actor)
        if form.latest_version
    ]
    owner = owner_of(pathway) if pathway else None
    # Platform processes are the platform's: its admins choose a pathway's purpose, and
    # give its steps to the platform team's lanes.
    may_platform = owner is None and services.can_manage(actor)
    config = {
        "mode": "edit" if pathway else "new",
        "key": pathway.key if pathway else None,
        "structure": owner.key if owner else None,
        "bpmnUrl": url_for("pathways.download", key=pathway.key) if pathway else None,
        "starter": None if pathway else STARTER,
        "saveUrl": url_for("pathways.save"),
        "forms": forms,
        "roles": [
            {"key": key, "label": label}
            for key, label in (LANES if may_platform else CARE_ROLES).items()
        ],
        "operators": [{"key": key, "label": label} for key, label in services.operators().items()],
        "maxBytes": MAX_BYTES,
    }
    return render_template(
        "pathways/modeler.html",
        pathway=pathway,
        latest=version,  # not `version`: base.html shows the product's version
        choices=choices,
        config=config,
        may_platform=may_platform,
    )


@bp.get("/nouveau")
def new():
    actor = acting_user()
    choices = services.owner_choices(actor)
    if not choices:
        raise Forbidden("Vous ne pouvez pas concevoir de parcours.")
    return _modeler(actor, choices=choices)


@bp.get("/<key>/modifier")
def edit(key):
    actor = acting_user()
    pathway, version = services.get_version(actor, key)
    if not services.can_manage(actor, pathway):
        raise Forbidden("Vous ne pouvez pas modifier ce parcours.")
    return _modeler(actor, pathway=pathway, version=version)


def _too_big():
    size = f"{MAX_BYTES / 2**20:g}".replace(".", ",")
    message = f"Le diagramme dépasse la taille maximale de {size} Mio."
    return json_error(413, "payload_too_large", message)


@bp.post("/enregistrer")
@accepts_uploads  # the CSRF check must not refuse a large diagram before we can say why
def save():
    """Deploy the modeler's XML. `structure`: the owner's key; `nouveau`: the process id of a
    new pathway, which must not be an existing pathway's (it would add a version to it)."""
    if (request.content_length or 0) > MAX_BYTES:
        return _too_big()
    if request.mimetype not in XML_TYPES:
        message = "Le diagramme doit être envoyé en BPMN XML (application/xml)."
        return json_error(415, "unsupported_media_type", message)
    actor = acting_user()
    try:
        new_key = request.args.get("nouveau")
        if new_key:
            _check_new_key(actor, new_key)
        pathway, version, created = services.deploy(
            actor, request.get_data(), request.args.get("structure") or None
        )
    except FORM_ERRORS as error:
        status = getattr(error, "status", 422)
        code = getattr(error, "code", "invalid")
        return json_error(status, code, error.message, error.fields, getattr(error, "extra", {}))
    body = {
        "key": pathway.key,
        "version": version.version,
        "created": created,
        "url": url_for("pathways.show", key=pathway.key, version=version.version),
        "edit_url": url_for("pathways.edit", key=pathway.key),
    }
    return body, 201 if created else 200


def _check_new_key(actor, key):
    try:
        services.get_version(actor, key)
    except NotFound:
        return
    raise Conflict(
        f"Un parcours porte déjà l'identifiant « {key} » : choisissez-en un autre, ou "
        "ouvrez ce parcours avec « Modifier » pour en déployer une nouvelle version.",
        fields={"/key": "Cet identifiant est déjà pris."},
    )
