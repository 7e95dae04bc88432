"""FHIR: the export as a Bundle (type "collection") built and validated with `fhir.resources`
(its R4B models: FHIR 4.3, the R4 line; the resources used here are the same in R4).

Patient (the INS only for a qualified identity, as the RNIV asks), Organization (the
coordinating structure), Practitioner and PractitionerRole for the authors and members with
an account, CareTeam for the circle of care, Questionnaire and QuestionnaireResponse for form
submissions, CarePlan and Task for pathways and their steps,
Consent, DocumentReference for documents, Communication for the thread's messages."""

import uuid

from fhir.resources.R4B.bundle import Bundle

from app.reference import CARE_ROLES, profession_label
from plugins.exports.content import iso, whole

GENDERS = {"F": "female", "M": "male", "I": "unknown"}
TASK_STATUSES = {"open": "ready", "completed": "completed", "cancelled": "cancelled",
                 "suspended": "on-hold"}  # fmt: skip
PLAN_STATUSES = {"running": "active", "waiting": "active", "completed": "completed",
                 "error": "active", "suspended": "on-hold"}  # fmt: skip
PARCOURS = "https://parcours.example.org/fhir"  # the systems of Parcours's own codes
RPPS = "urn:oid:1.2.250.1.71.4.2.1"
INS_NIR, INS_NIA = "urn:oid:1.2.250.1.213.1.4.8", "urn:oid:1.2.250.1.213.1.4.9"


def _uuid(*parts):
    """A stable urn:uuid per object of the export (the same dossier gives the same ids)."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, '/'.join(str(p) for p in parts))}"


def _reference(url, display=None):
    return {"reference": url, **({"display": display} if display else {})}


class _Bundle:
    def __init__(self):
        self.entries = []

    def add(self, url, resource):
        self.entries.append({"fullUrl": url, "resource": resource})
        return url


def _patient(bundle, view, data):
    identity = view.dossier.identity
    names = [{"use": "official", "family": identity.birth_name,
              "given": identity.first_names.split()}]  # fmt: skip
    if identity.used_name:
        names.append({"use": "usual", "family": identity.used_name,
                      "given": identity.first_names.split()})  # fmt: skip
    patient = {"resourceType": "Patient", "name": names, "birthDate": identity.birth_date,
               "gender": GENDERS.get(identity.sex, "unknown")}  # fmt: skip
    if identity.qualified:
        # The matricule is a NIR, or a NIA (first digit 7 or 8) for someone awaiting one.
        system = INS_NIA if identity.ins[0] in "78" else INS_NIR
        patient["identifier"] = [{"use": "official", "system": system, "value": identity.ins}]
    return bundle.add(_uuid("patient", view.dossier.id), patient)


def _organization(bundle, view):
    name = getattr(view.structure, "name", None) or "Structure"
    organization = {"resourceType": "Organization", "name": name,
                    "identifier": [{"system": f"{PARCOURS}/structure",
                                    "value": str(view.dossier.structure)}]}  # fmt: skip
    return bundle.add(_uuid("structure", view.dossier.structure), organization)


def _practitioners(bundle, view, organization):
    """{user id: Practitioner url} for every account named in the export."""
    urls = {}
    for user_id, user in view.people.items():
        url = _uuid("user", user_id)
        mark = {"system": f"{PARCOURS}/user", "value": str(user_id)}
        bundle.add(url, {"resourceType": "Practitioner", "name": [{"text": user.name}],
                         "identifier": [mark]})  # fmt: skip
        role = {"resourceType": "PractitionerRole", "practitioner": _reference(url, user.name),
                "organization": _reference(organization)}  # fmt: skip
        if user.profession:
            coding = {"system": f"{PARCOURS}/profession", "code": user.profession,
                      "display": profession_label(user.profession)}  # fmt: skip
            role["code"] = [{"coding": [coding]}]
        bundle.add(_uuid("role", user_id), role)
        urls[user_id] = url
    return urls


def _care_team(bundle, view, patient, practitioners):
    participants = []
    for member in view.members:
        who = (_reference(practitioners[member.user], member.name) if member.user in practitioners
               else {"display": member.name})  # fmt: skip
        participants.append({"role": [{"coding": [{"system": f"{PARCOURS}/care-role",
                                                   "code": member.care_role,
                                                   "display": CARE_ROLES.get(member.care_role,
                                                                             member.care_role)}]}],
                             "member": who})  # fmt: skip
    team = {"resourceType": "CareTeam", "status": "active", "name": "Cercle de soins",
            "subject": _reference(patient), "participant": participants}  # fmt: skip
    return bundle.add(_uuid("careteam", view.dossier.id), team)


def _items(answers, prefix=""):
    """(Questionnaire items, QuestionnaireResponse items) of a labelled answer tree."""
    questions, responses = [], []
    for number, (kind, title, value) in enumerate(answers, 1):
        link = f"{prefix}{number}"
        if kind == "field":
            questions.append({"linkId": link, "text": title or "—", "type": "string"})
            responses.append({"linkId": link, "text": title or "—",
                              "answer": [{"valueString": value}]})  # fmt: skip
        elif kind == "section":
            inner_q, inner_r = _items(value, f"{link}.")
            empty = [{"linkId": f"{link}.0", "text": "—", "type": "display"}]
            questions.append({"linkId": link, "text": title, "type": "group",
                              "item": inner_q or empty})  # fmt: skip
            responses.append(
                {"linkId": link, "text": title, **({"item": inner_r} if inner_r else {})}
            )
        else:  # repeated rows: the group repeats, one answer group per row
            rows = [_items(row, f"{link}.") for row in value]
            first = (
                rows[0][0] if rows else [{"linkId": f"{link}.0", "text": "—", "type": "display"}]
            )
            questions.append({"linkId": link, "text": title, "type": "group", "repeats": True,
                              "item": first})  # fmt: skip
            responses += [{"linkId": link, "text": title, "item": r} for _, r in rows if r]
    return questions, responses


def _submissions(bundle, view, data, patient, practitioners):
    questionnaires = set()
    for entry, found in zip(data["entries"], sorted(view.entries, key=lambda e: e.created_at),
                            strict=True):  # fmt: skip
        author = practitioners.get(found.author)
        if entry["kind"] == "form" and entry["answers"] is not None:
            questions, responses = _items(entry["answers"])
            canonical = f"{PARCOURS}/Questionnaire/{entry['form']}|{entry['form_version']}"
            if canonical not in questionnaires:
                questionnaires.add(canonical)
                bundle.add(_uuid("questionnaire", canonical), {
                    "resourceType": "Questionnaire", "status": "active",
                    "title": entry["title"], "url": canonical.split("|")[0],
                    "version": str(entry["form_version"]), "item": questions})  # fmt: skip
            response = {"resourceType": "QuestionnaireResponse", "status": "completed",
                        "questionnaire": canonical, "subject": _reference(patient),
                        "authored": entry["created_at"], "item": responses}  # fmt: skip
            if author:
                response["author"] = _reference(author, entry["author"])
            bundle.add(_uuid("entry", entry["id"]), response)
        elif entry["kind"] == "document":
            document = entry["document"]
            reference = {"resourceType": "DocumentReference", "status": "current",
                         "subject": _reference(patient), "date": entry["created_at"],
                         "description": entry["title"] or entry["text"] or document["filename"],
                         "content": [{"attachment": {
                             "contentType": document["content_type"] or "application/octet-stream",
                             "title": document["filename"], "size": document["size"] or 0,
                             "url": f"/api/v1/entries/{entry['id']}/file"}}]}  # fmt: skip
            if author:
                reference["author"] = [_reference(author, entry["author"])]
            bundle.add(_uuid("entry", entry["id"]), reference)
        else:  # a note: a Communication about the patient, from its author
            note = {"resourceType": "Communication", "status": "completed",
                    "subject": _reference(patient), "sent": entry["created_at"],
                    "payload": [{"contentString": entry["text"] or ""}]}  # fmt: skip
            if author:
                note["sender"] = _reference(author, entry["author"])
            bundle.add(_uuid("entry", entry["id"]), note)


def _pathways(bundle, view, patient, practitioners):
    for instance, tasks in view.pathways:
        task_urls = []
        for task in tasks:
            resource = {"resourceType": "Task", "status": TASK_STATUSES.get(task.status, "ready"),
                        "intent": "order", "description": task.title, "for": _reference(patient),
                        "authoredOn": iso(task.created_at)}  # fmt: skip
            if task.assignee in practitioners:
                resource["owner"] = _reference(practitioners[task.assignee])
            if task.due_at:
                resource["restriction"] = {"period": {"end": iso(task.due_at)}}
            task_urls.append(bundle.add(_uuid("task", task.id), resource))
        bundle.add(_uuid("pathway", instance.id), {
            "resourceType": "CarePlan", "status": PLAN_STATUSES.get(instance.status, "active"),
            "intent": "plan", "title": instance.name or instance.pathway,
            "subject": _reference(patient),
            "activity": [{"reference": _reference(url)} for url in task_urls]})  # fmt: skip


def _consent(bundle, view, patient, organization):
    consent = view.dossier.consent
    bundle.add(_uuid("consent", view.dossier.id), {
        "resourceType": "Consent",
        "status": "inactive" if consent.withdrawn_on else "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                              "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": f"{PARCOURS}/consent", "code": consent.mode}]}],
        "patient": _reference(patient), "dateTime": f"{consent.date}T00:00:00+00:00",
        "organization": [_reference(organization)],
        "policyRule": {"text": "Partage entre professionnels de l'équipe de soins (L.1110-12 CSP)"},
    })  # fmt: skip


def _messages(bundle, view, patient, practitioners):
    for message in view.messages:
        resource = {"resourceType": "Communication", "status": "completed",
                    "subject": _reference(patient), "sent": iso(message.created_at),
                    "payload": [{"contentString": message.body or ""}]}  # fmt: skip
        sender = practitioners.get(message.author)
        resource["sender"] = _reference(sender, message.author_name) if sender else {
            "display": message.author_name}  # fmt: skip
        bundle.add(_uuid("message", message.id), resource)


def bundle_of(view):
    """The validated Bundle (a fhir.resources model)."""
    data, bundle = whole(view), _Bundle()
    patient = _patient(bundle, view, data)
    organization = _organization(bundle, view)
    practitioners = _practitioners(bundle, view, organization)
    if view.kind == "dossier":
        _care_team(bundle, view, patient, practitioners)
        _consent(bundle, view, patient, organization)
    _submissions(bundle, view, data, patient, practitioners)
    _pathways(bundle, view, patient, practitioners)
    _messages(bundle, view, patient, practitioners)
    return Bundle.model_validate({
        "resourceType": "Bundle", "type": "collection", "timestamp": data["generated_at"],
        "identifier": {"system": f"{PARCOURS}/export", "value": str(uuid.uuid4())},
        "entry": bundle.entries,
    })  # fmt: skip


def build(view):
    return bundle_of(view).model_dump_json(exclude_none=True).encode("utf-8")
