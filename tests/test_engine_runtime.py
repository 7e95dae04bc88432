"""Running pathway instances (app/engine/runtime.py): steps, state round trips, failures,
timers, messages. Every step is followed by dump -> restore, as the services will do."""

import json
import sys
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from test_engine_parser import HEAD, TAIL, VALID, changed, form_key

from app import clock
from app.engine.runtime import (
    CONNECTORS,
    ConnectorError,
    EngineError,
    Runtime,
    TaskNotReady,
    register_connector,
)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
EVALUATION = "evaluation_multidimensionnelle"

# Builtin eval()/exec() raise the "exec" audit event: count them while armed.
_EXEC = {"armed": False, "count": 0}


def _audit(event, _args):
    if event == "exec" and _EXEC["armed"]:
        _EXEC["count"] += 1


sys.addaudithook(_audit)


def runtime_of(bpmn=VALID, pathway="suivi_gir", version=1, trusted=0):
    return Runtime.for_version(
        SimpleNamespace(pathway=pathway, version=version, bpmn=bpmn, trusted=trusted)
    )


def reloaded(instance):
    """The instance as the next request will see it; checks the round trip keeps the tasks."""
    again = instance.runtime.restore(instance.dump())
    assert again.ready_user_tasks() == instance.ready_user_tasks()
    assert again.next_timer_at() == instance.next_timer_at()
    assert again.is_completed() == instance.is_completed()
    return again


def complete(instance, spec, data):
    [task] = [t for t in instance.ready_user_tasks() if t["spec"] == spec]
    return instance.complete(task["id"], task["form_key"], data)


def passed(instance):
    """The BPMN elements passed, in order (what the state keeps of them is not the point)."""
    return [element["spec"] for element in instance.passed()]


def specs(instance):
    return [task["spec"] for task in instance.ready_user_tasks()]


def test_start_offers_the_evaluation_to_the_coordinator():
    instance = runtime_of().start({})
    [task] = instance.ready_user_tasks()
    assert uuid.UUID(task["id"])
    assert {k: v for k, v in task.items() if k != "id"} == {
        "spec": "evaluation",
        "name": "Évaluation multidimensionnelle",
        "lane": "coordinateur",
        "form_key": EVALUATION,
        "due_in": "P2D",
    }
    assert instance.start_result == {"service_calls": [], "messages": [], "completed": False}
    assert not instance.is_completed()
    assert instance.next_timer_at() is None
    assert reloaded(instance).ready_user_tasks() == [task]


def test_low_gir_notifies_the_doctor_then_offers_the_visit():
    started = runtime_of().start({})
    assert passed(started) == ["start"]
    instance = reloaded(started)
    before = set(passed(instance))
    result = complete(instance, "evaluation", {"gir": 2, "aidant": "Fille"})
    # What a step went through, as the services read it before saving the state.
    new = [spec for spec in passed(instance) if spec not in before]
    assert new == ["evaluation", "gw_gir", "notify_doctor"]
    assert result == {
        "service_calls": [
            {
                "element": "notify_doctor",
                "name": "Prévenir le médecin",
                "operator": "notify",
                "params": {"template": "gir_alert", "gir": 2},
                "result": None,
            }
        ],
        "messages": [],
        "completed": False,
    }
    instance = reloaded(instance)
    [visit] = instance.ready_user_tasks()
    assert (visit["spec"], visit["lane"], visit["form_key"]) == (
        "visite",
        "medecin_traitant",
        "visite_domicile",
    )
    before = {element["id"] for element in instance.passed()}
    result = complete(instance, "visite", {"date": "2026-03-05"})
    assert [e["spec"] for e in instance.passed() if e["id"] not in before] == ["visite", "end"]
    assert {e["spec"]: e["type"] for e in instance.passed()}["visite"] == "UserTask"
    assert result["completed"]
    assert instance.is_completed()
    instance = reloaded(instance)
    assert instance.ready_user_tasks() == []
    assert instance.data() == {
        EVALUATION: {"gir": 2, "aidant": "Fille"},
        "visite_domicile": {"date": "2026-03-05"},
        "notification": None,
    }


def test_high_gir_takes_the_default_flow_without_notifying():
    instance = reloaded(runtime_of().start({}))
    result = complete(instance, "evaluation", {"gir": 4})
    assert result["service_calls"] == []
    assert specs(reloaded(instance)) == ["visite"]
    assert "notify_doctor" not in passed(instance)


def test_the_dump_holds_the_instance_not_the_spec():
    instance = runtime_of().start({})
    text = instance.dump()
    assert "task_specs" not in text
    assert not {"spec", "subprocess_specs"} & set(json.loads(text))
    assert len(text) < 6000
    # ten kilobytes more of BPMN leave the state as it was
    padded = changed(
        ('<bpmn:userTask id="evaluation" name="Évaluation multidimensionnelle">',
         '<bpmn:userTask id="evaluation" name="Évaluation multidimensionnelle">'
         f"<bpmn:documentation>{'x' * 10_000}</bpmn:documentation>"),
    )  # fmt: skip
    other = runtime_of(padded, pathway="padded").start({}).dump()
    assert abs(len(other) - len(text)) < 200


def test_a_state_restores_only_with_its_own_bpmn():
    first = runtime_of()
    assert runtime_of() is first  # parsed once per version
    state = first.start({}).dump()
    other = runtime_of(changed(("Suivi GIR", "Suivi du GIR")))  # same version, other BPMN
    assert other is not first
    with pytest.raises(EngineError, match="autre version"):
        other.restore(state)
    with pytest.raises(EngineError, match="illisible"):
        runtime_of().restore("{not json")


def test_an_unknown_task_or_form_is_refused_without_harm():
    instance = runtime_of().start({})
    [task] = instance.ready_user_tasks()
    for task_id in (str(uuid.uuid4()), "not-a-uuid", ""):
        with pytest.raises(TaskNotReady):
            instance.complete(task_id, EVALUATION, {"gir": 4})
    with pytest.raises(EngineError, match="attend le formulaire") as caught:
        instance.complete(task["id"], "visite_domicile", {"gir": 4})
    assert not isinstance(caught.value, TaskNotReady)
    state = instance.dump()  # still usable
    instance.complete(task["id"], EVALUATION, {"gir": 4})
    with pytest.raises(TaskNotReady):  # done already
        instance.complete(task["id"], EVALUATION, {"gir": 4})
    stale = runtime_of().restore(state)
    stale.complete(task["id"], EVALUATION, {"gir": 4})


def test_a_failing_condition_is_a_french_error_and_the_instance_is_discarded():
    bpmn = changed(
        ('evaluation_multidimensionnelle["gir"]', 'evaluation_multidimensionnelle["giir"]')
    )
    runtime = runtime_of(bpmn, pathway="failing")
    state = runtime.start({}).dump()
    instance = runtime.restore(state)
    [task] = instance.ready_user_tasks()
    with pytest.raises(EngineError) as caught:
        instance.complete(task["id"], EVALUATION, {"gir": 2})
    assert caught.value.element_id == "gw_gir"
    assert caught.value.message == (
        "Passerelle « GIR ? » : Clé absente : 'giir' dans l'expression "
        '« evaluation_multidimensionnelle["giir"] <= 2 ».'
    )
    with pytest.raises(EngineError, match="rechargez"):
        instance.dump()
    assert runtime.restore(state).ready_user_tasks() == [task]  # the stored state is intact


def test_no_matching_branch_is_a_french_error():
    bpmn = changed(
        (' default="f_default"', ""),
        ('<bpmn:sequenceFlow id="f_default" sourceRef="gw_gir" targetRef="visite"/>',
         '<bpmn:sequenceFlow id="f_default" sourceRef="gw_gir" targetRef="visite">'
         "<bpmn:conditionExpression>evaluation_multidimensionnelle['gir'] &gt;= 5"
         "</bpmn:conditionExpression></bpmn:sequenceFlow>"),
    )  # fmt: skip
    instance = runtime_of(bpmn, pathway="no_default").start({})
    with pytest.raises(EngineError, match="aucune condition de sortie") as caught:
        complete(instance, "evaluation", {"gir": 4})
    assert caught.value.element_id == "gw_gir"


def test_no_python_eval_ever_runs():
    evil = changed(
        ('evaluation_multidimensionnelle["gir"] &lt;= 2',
         "().__class__.__base__.__subclasses__() != []"),
    )  # fmt: skip
    with pytest.raises(EngineError, match="Parcours non exécutable"):
        runtime_of(evil, pathway="evil")
    runtime = runtime_of()
    _EXEC.update(armed=True, count=0)
    try:  # gateway, service parameters, boundary timer, serializer: all without eval
        instance = runtime.restore(runtime.start({}).dump())
        complete(instance, "evaluation", {"gir": 1})
        instance = runtime.restore(instance.dump())
        complete(instance, "visite", {"date": "2026-03-05"})
    finally:
        _EXEC["armed"] = False
    assert instance.is_completed()
    assert _EXEC["count"] == 0


def test_sets_and_typename_keys_survive_the_round_trip():
    bpmn = changed(
        ('evaluation_multidimensionnelle["gir"] &lt;= 2',
         'evaluation_multidimensionnelle["typename"] == "urgent"'),
    )  # fmt: skip
    instance = runtime_of(bpmn, pathway="typename").start({"%dossier": {"typename": "Task"}})
    data = {
        "gir": 4,
        "typename": "urgent",
        "aides": {"repas"},
        "suivi": {"typename": "BpmnEvent", "%pct": 50, "le": datetime(2026, 3, 1, tzinfo=UTC)},
    }
    result = complete(instance, "evaluation", data)
    assert result["service_calls"][0]["params"]["gir"] == 4  # the condition saw "typename"
    instance = reloaded(reloaded(instance))
    assert instance.data()[EVALUATION] == {
        "gir": 4,
        "typename": "urgent",
        "aides": ["repas"],
        "suivi": {"typename": "BpmnEvent", "%pct": 50, "le": "2026-03-01T00:00:00+00:00"},
    }
    assert instance.data()["%dossier"] == {"typename": "Task"}
    with pytest.raises(EngineError, match="impossibles à enregistrer"):
        complete(instance, "visite", {"x": object()})
    complete(instance, "visite", {"x": 1})  # refused data changed nothing


def test_connectors_receive_evaluated_params_and_their_failure_stops_the_step(monkeypatch):
    seen = []

    def notify(params, context):
        seen.append((params, context.element_id, context.data[EVALUATION]["gir"]))
        return {"sent": True}

    monkeypatch.setitem(CONNECTORS, "notify", notify)
    instance = runtime_of().start({})
    complete(instance, "evaluation", {"gir": 1})
    assert seen == [({"template": "gir_alert", "gir": 1}, "notify_doctor", 1)]
    assert instance.data()["notification"] == {"sent": True}

    def unavailable(params, context):
        raise ConnectorError("SMTP indisponible")

    register_connector("notify", unavailable)  # monkeypatch restores the original afterwards
    instance = runtime_of().start({})
    with pytest.raises(EngineError, match="« notify » a échoué : SMTP indisponible"):
        complete(instance, "evaluation", {"gir": 1})

    def broken(params, context):  # any other exception: its text may quote the data
        raise RuntimeError(f"gir {params['gir']} refusé")

    register_connector("notify", broken)
    instance = runtime_of().start({})
    with pytest.raises(EngineError) as caught:
        complete(instance, "evaluation", {"gir": 1})
    assert caught.value.message == (
        "Étape « Prévenir le médecin » : Le service « notify » a échoué (RuntimeError)."
    )


def test_a_boundary_timer_waits_for_its_due_time(monkeypatch):
    monkeypatch.setattr(clock, "utcnow", lambda: T0)
    instance = reloaded(runtime_of().start({}))
    assert instance.next_timer_at() is None  # armed with the visit, not before
    complete(instance, "evaluation", {"gir": 4})
    instance = reloaded(instance)
    assert instance.next_timer_at() == T0 + timedelta(days=7)
    assert instance.next_timer_at().tzinfo is UTC
    early = instance.fire_timers(T0 + timedelta(days=6))
    assert (early["fired"], specs(instance)) == ([], ["visite"])
    instance = reloaded(instance)
    result = instance.fire_timers(T0 + timedelta(days=8))
    assert (result["fired"], result["completed"]) == (["relance"], False)
    assert "relance" in passed(instance)
    instance = reloaded(instance)
    assert specs(instance) == ["visite"]  # not interrupting
    assert instance.next_timer_at() is None


MESSAGE = (
    HEAD
    + f"""  <bpmn:message id="msg_sortie" name="sortie_hospitalisation"/>
  <bpmn:process id="retour_domicile" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_coord" name="coordinateur">
        <bpmn:flowNodeRef>bilan</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="sortie"/>
    <bpmn:intermediateCatchEvent id="sortie" name="Sortie d'hospitalisation">
      <bpmn:messageEventDefinition id="med" messageRef="msg_sortie">
        <bpmn:extensionElements>
          <spiffworkflow:messageVariable>sortie</spiffworkflow:messageVariable>
        </bpmn:extensionElements>
      </bpmn:messageEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="sortie" targetRef="bilan"/>
    <bpmn:userTask id="bilan" name="Bilan de retour">{form_key("synthese")}</bpmn:userTask>
    <bpmn:sequenceFlow id="f3" sourceRef="bilan" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
"""
    + TAIL
)


def test_a_message_moves_a_waiting_instance_on():
    instance = reloaded(runtime_of(MESSAGE, pathway="retour_domicile").start({}))
    assert instance.ready_user_tasks() == []
    assert not instance.is_completed()
    assert instance.send_message("autre_message", {})["caught"] is False
    instance = reloaded(instance)
    payload = {"date": "2026-03-04", "service": "cardiologie", "typename": "x"}
    result = instance.send_message("sortie_hospitalisation", payload)
    assert result["caught"] is True
    instance = reloaded(instance)
    assert specs(instance) == ["bilan"]
    assert instance.data()["sortie"] == payload
    assert instance.send_message("sortie_hospitalisation", payload)["caught"] is False
    assert complete(instance, "bilan", {"ok": True})["completed"]


EVENT_GATEWAY = changed(
    ('<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="sortie"/>',
     '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="gw"/>'
     '<bpmn:eventBasedGateway id="gw"/>'
     '<bpmn:sequenceFlow id="f_msg" sourceRef="gw" targetRef="sortie"/>'
     '<bpmn:sequenceFlow id="f_timer" sourceRef="gw" targetRef="delai"/>'
     '<bpmn:intermediateCatchEvent id="delai"><bpmn:timerEventDefinition id="td">'
     '<bpmn:timeDuration>"P7D"</bpmn:timeDuration></bpmn:timerEventDefinition>'
     "</bpmn:intermediateCatchEvent>"
     '<bpmn:sequenceFlow id="f_late" sourceRef="delai" targetRef="bilan"/>'),
    text=MESSAGE,
)  # fmt: skip


def test_a_message_reaches_an_event_based_gateway():
    """The gateway waits on a message or a timer at once: the message wins here."""
    instance = reloaded(runtime_of(EVENT_GATEWAY, pathway="retour_domicile").start({}))
    assert instance.next_timer_at() is not None
    result = instance.send_message("sortie_hospitalisation", {"date": "2026-03-04"})
    assert result["caught"] is True
    instance = reloaded(instance)
    assert specs(instance) == ["bilan"]
    assert instance.next_timer_at() is None


def test_a_message_start_beside_a_plain_start_runs_only_the_message_path():
    both = changed(
        ('<bpmn:intermediateCatchEvent id="sortie"', '<bpmn:startEvent id="sortie"'),
        ("</bpmn:intermediateCatchEvent>", "</bpmn:startEvent>"),
        ('<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="sortie"/>',
         '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="end"/>'),
        text=MESSAGE,
    )  # fmt: skip
    runtime = runtime_of(both, pathway="retour_domicile", version=2)
    assert runtime.start({}).is_completed()  # by hand: the plain start runs to its end
    started = runtime.start({}, message=("sortie_hospitalisation", {"service": "MPR"}))
    assert started.start_result["caught"] is True
    started = reloaded(started)
    assert specs(started) == ["bilan"]
    assert started.data()["sortie"] == {"service": "MPR"}
    other = runtime.start({}, message=("autre", {}))
    assert other.start_result["caught"] is False


def script_pathway():
    return changed(
        ('<bpmn:sequenceFlow id="f2" sourceRef="evaluation" targetRef="gw_gir"/>',
         '<bpmn:sequenceFlow id="f2" sourceRef="evaluation" targetRef="score"/>'
         '<bpmn:scriptTask id="score" name="Score"><bpmn:script>'
         "# score = 10 x GIR\n\n"
         'score = evaluation_multidimensionnelle["gir"] * 10\nurgent = score &lt;= 20'
         "</bpmn:script></bpmn:scriptTask>"
         '<bpmn:sequenceFlow id="f2b" sourceRef="score" targetRef="gw_gir"/>'),
    )  # fmt: skip


def test_script_tasks_run_only_in_trusted_pathways_through_the_evaluator():
    with pytest.raises(EngineError, match="script"):
        runtime_of(script_pathway(), pathway="scripted")
    runtime = runtime_of(script_pathway(), pathway="scripted", trusted=1)
    instance = runtime.restore(runtime.start({}).dump())
    complete(instance, "evaluation", {"gir": 2})
    assert {k: instance.data()[k] for k in ("score", "urgent")} == {"score": 20, "urgent": True}
    python = script_pathway().replace("urgent = score &lt;= 20", "import os")
    instance = runtime_of(python, pathway="python", trusted=1).start({})
    with pytest.raises(EngineError, match="nom = expression") as caught:
        complete(instance, "evaluation", {"gir": 2})
    assert caught.value.element_id == "score"


def test_a_user_task_inside_an_embedded_subprocess_keeps_its_lane():
    bpmn = changed(
        ('targetRef="visite"/>\n    <bpmn:serviceTask', 'targetRef="sub"/>\n    <bpmn:serviceTask'),
        ('"notify_doctor" targetRef="visite"', '"notify_doctor" targetRef="sub"'),
        ("<bpmn:flowNodeRef>visite</bpmn:flowNodeRef>", "<bpmn:flowNodeRef>sub</bpmn:flowNodeRef>"),
        ('sourceRef="visite" targetRef="end"', 'sourceRef="sub" targetRef="end"'),
        ('<bpmn:userTask id="visite"',
         '<bpmn:subProcess id="sub" name="Suivi"><bpmn:startEvent id="s2"/>'
         '<bpmn:sequenceFlow id="g1" sourceRef="s2" targetRef="visite"/>'
         '<bpmn:sequenceFlow id="g2" sourceRef="visite" targetRef="e2"/>'
         '<bpmn:endEvent id="e2"/><bpmn:userTask id="visite"'),
        ("</bpmn:userTask>\n    <bpmn:boundaryEvent",
         "</bpmn:userTask></bpmn:subProcess><bpmn:boundaryEvent"),
        ('attachedToRef="visite"', 'attachedToRef="sub"'),
    )  # fmt: skip
    instance = runtime_of(bpmn, pathway="embedded").start({})
    complete(instance, "evaluation", {"gir": 4})
    instance = reloaded(instance)
    [visit] = instance.ready_user_tasks()
    assert (visit["spec"], visit["lane"]) == ("visite", "medecin_traitant")
    assert instance.next_timer_at() is not None  # the boundary timer of the subprocess
    assert complete(reloaded(instance), "visite", {"date": "2026-03-05"})["completed"]


# --- timers armed with what they read (issue 17) ----------------------------------------------

FROM_DATA = changed(
    ('<bpmn:timeDuration>"P7D"</bpmn:timeDuration>',
     '<bpmn:timeCycle>evaluation_multidimensionnelle["aidant"]</bpmn:timeCycle>'),
)  # fmt: skip


@pytest.fixture
def one_hour(monkeypatch):
    from app.engine import runtime

    monkeypatch.setattr(runtime, "timer_min_repeat", lambda: 3600)
    monkeypatch.setattr(clock, "utcnow", lambda: T0)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("R/PT1S", "Minuterie trop fréquente : elle se répète toutes les 1 s, le minimum est 1 h."),
        ("Sérologie VIH", "Minuterie : la valeur calculée n'est pas une date, une durée ou un "
                          "cycle ISO 8601."),
        (12, "Minuterie : la valeur calculée n'est pas un texte ISO 8601."),
    ],
)  # fmt: skip
def test_a_timer_armed_from_data_is_checked_before_the_engine_reads_it(one_hour, value, message):
    runtime = runtime_of(FROM_DATA, pathway="from_data")
    instance = runtime.start({})
    with pytest.raises(EngineError) as caught:
        complete(instance, "evaluation", {"gir": 4, "aidant": value})
    assert caught.value.element_id == "relance"
    assert caught.value.message.endswith(message)
    assert "Sérologie" not in caught.value.message


def test_a_timer_armed_from_data_at_the_minimum_runs(one_hour):
    instance = runtime_of(FROM_DATA, pathway="from_data").start({})
    complete(instance, "evaluation", {"gir": 4, "aidant": "R2/PT1H"})
    assert reloaded(instance).next_timer_at() == T0 + timedelta(hours=1)


def test_a_too_frequent_cycle_armed_before_the_limit_stops_when_due(monkeypatch):
    from app.engine import runtime

    monkeypatch.setattr(clock, "utcnow", lambda: T0)
    bpmn = changed(
        ('<bpmn:timeDuration>"P7D"</bpmn:timeDuration>',
         '<bpmn:timeCycle>"R/PT1S"</bpmn:timeCycle>'),
    )  # fmt: skip
    instance = runtime_of(bpmn, pathway="legacy_cycle").start({})
    complete(instance, "evaluation", {"gir": 4})  # armed while there was no limit
    instance = reloaded(instance)
    monkeypatch.setattr(runtime, "timer_min_repeat", lambda: 3600)
    with pytest.raises(EngineError, match="Minuterie trop fréquente") as caught:
        instance.fire_timers(T0 + timedelta(seconds=41))
    assert caught.value.element_id == "relance"
