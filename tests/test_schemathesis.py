"""Schemathesis over every operation of the OpenAPI document, in process (WSGI), as a
coordinator and as a platform admin, with path parameters that name real objects: no answer
is a server error, every status and media type is one the document lists for the operation,
and every answer matches its schema.

Each operation runs its examples, schemathesis' coverage cases (boundaries, wrong types,
missing fields) and a few generated cases, derandomized: the same requests on every run."""

import io
from pathlib import Path
from types import SimpleNamespace

import pytest
import schemathesis
from dossier_helpers import PDF, new_dossier
from hypothesis import HealthCheck, Phase, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from test_pathways import BPMN

from app import policy
from app.directory.services import add_professional
from app.dossiers import circle
from app.formkit.services import sync_directory
from app.notifications.services import notify
from app.pathways.services import deploy

REFUSED = {403, 404}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def app_config(app_config):
    return {**app_config, "PLUGINS": "exports"}  # the export formats, to export real objects


@pytest.fixture
def world(app, api_as, login_as, coordinator, platform_admin, professional, structure, make_user):
    """A dossier with a circle, a running pathway with its open task, a note, a document, a
    pending join request, a conversation, a directory entry; a notice for the coordinator,
    only inbox counters for the admin (kept when they opened their tasks, before any notice).
    What DELETE operations remove is set apart, so that the others still find their objects."""
    sync_directory(Path(app.root_path).parent / "forms")
    deploy(policy.SYSTEM, BPMN)
    dossier = new_dossier(coordinator, structure)
    doctor, leaving = make_user(structure, profession="10"), make_user(structure)
    member = circle.add_member(
        coordinator, dossier, {"user": str(professional.id), "care_role": "infirmier"}
    )
    removed = circle.add_member(
        coordinator, dossier, {"user": str(leaving.id), "care_role": "aide_a_domicile"}
    )
    coord = api_as(coordinator)
    instance = coord.post(f"/dossiers/{dossier.id}/pathways", json={"pathway": "suivi_gir"})
    [task] = coord.get("/tasks").json["items"]
    note, deleted = (
        coord.post(
            f"/dossiers/{dossier.id}/entries",
            json={"note": text, "category": "administratif", "visibility": "shared"},
        ).json["id"]
        for text in ("Une note", "Une note à supprimer")
    )
    document = coord.post(
        f"/dossiers/{dossier.id}/documents",
        data={"file": (io.BytesIO(PDF), "cr.pdf"), "category": "medical", "visibility": "shared"},
        content_type="multipart/form-data",
    ).json["id"]
    join = api_as(doctor).post(
        f"/dossiers/{dossier.id}/join-requests", json={"care_role": "medecin_traitant"}
    )
    conversation = coord.post("/conversations", json={"participants": [str(professional.id)]})
    entry = add_professional(platform_admin, {"last_name": "Annuaire", "profession": "10"})
    [notice] = notify([coordinator], "task_assigned", "Une tâche", "/taches")
    assert login_as(platform_admin).get("/taches").status_code == 200
    return SimpleNamespace(
        ids={
            "dossier_id": [str(dossier.id)],
            "member_id": [str(member.id)],
            "request_id": [join.json["id"]],
            "entry_id": [note, document],
            "instance_id": [instance.json["instance"]],
            "task_id": [task["id"]],
            "discussion_id": [conversation.json["id"]],
            "professional_id": [str(entry.id)],
            "user_id": [str(professional.id), str(coordinator.id)],
            "notification_id": [str(notice.id)],
        },
        removed={
            "member_id": [str(removed.id)],
            "entry_id": [deleted],
            "user_id": [str(leaving.id)],
        },
        keys={
            "forms": ["evaluation_multidimensionnelle"],
            "pathways": ["suivi_gir"],
            "structures": [structure.key],
        },
    )


@pytest.fixture(params=("coordinator", "platform_admin"))
def caller(request, api_as):
    user = request.getfixturevalue(request.param)
    return SimpleNamespace(user=user, headers=api_as(user).headers, turn=[0], answers={})


@pytest.fixture
def api_schema(request, app, world, caller):
    # schemathesis 4.32 renames the test node through `_nodeid`, which pytest 9.2 no longer
    # has (the name is only for its report).
    request.node._nodeid = request.node.nodeid
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


def real_ids(world, method, path):
    """What each path parameter of the operation may be: the ids of the world's objects."""
    ids = {**world.ids, "key": world.keys.get(path.split("/")[3], [])}
    if method == "DELETE" or path.endswith("/members/{user_id}"):
        ids.update(world.removed)
    return ids


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=3, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))  # fmt: skip
def test_api(case, world, caller):
    """Real ids in the path, unless the case is about a wrong one; the caller's token. An
    operation that refused the caller 3 times (403, 404: before reading the input) and
    answered nothing else gets no more of that caller's cases, which would be refused alike."""
    answers = caller.answers.setdefault(case.operation.label, [])
    if len(answers) >= 3 and set(answers) <= REFUSED:
        return
    path = case.meta.components.get(ParameterLocation.PATH) if case.meta else None
    if case.path_parameters and (path is None or path.mode != GenerationMode.NEGATIVE):
        ids = real_ids(world, case.method, case.operation.path)
        caller.turn[0] += 1
        case.path_parameters = {
            name: ids[name][caller.turn[0] % len(ids[name])] for name in case.path_parameters
        }
    case.headers = {**(case.headers or {}), **caller.headers}
    response = case.call_and_validate(checks=CHECKS)
    if response.status_code != 405:  # a method the route does not have, whoever asks
        answers.append(response.status_code)
