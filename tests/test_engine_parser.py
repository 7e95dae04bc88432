"""Safe parsing and deploy-time validation of BPMN pathways (app/engine/parser.py).

Small documents written inline; each bad input must give the expected French problem with the
element id and its line, every problem of a document at once, and never an exception.
"""

import json

import pytest

from app.engine.iso8601 import is_iso_duration
from app.engine.parser import Problem, parse_bpmn

FORMS = {
    "evaluation_multidimensionnelle": {"gir", "aidant", "besoins"},
    "visite_domicile": {"date", "prochaine_visite"},
    "synthese": None,  # fields unknown: keys are not checked
}
ROLES = {"coordinateur", "medecin_traitant", "infirmier"}
OPERATORS = {"notify"}
HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
  id="defs" targetNamespace="http://parcours.test/bpmn">
"""
TAIL = "</bpmn:definitions>\n"


def form_key(key, due_in=None):
    due = f'<spiffworkflow:property name="dueIn" value="{due_in}"/>' if due_in else ""
    return (
        "<bpmn:extensionElements><spiffworkflow:properties>"
        f'<spiffworkflow:property name="formKey" value="{key}"/>{due}'
        "</spiffworkflow:properties></bpmn:extensionElements>"
    )


VALID = (
    HEAD
    + f"""  <bpmn:process id="suivi_gir" name="Suivi GIR" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_coord" name="coordinateur">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>evaluation</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>gw_gir</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>notify_doctor</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="lane_mt" name="medecin_traitant">
        <bpmn:flowNodeRef>visite</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>relance</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="evaluation"/>
    <bpmn:userTask id="evaluation" name="Évaluation multidimensionnelle">
      {form_key("evaluation_multidimensionnelle", "P2D")}
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="evaluation" targetRef="gw_gir"/>
    <bpmn:exclusiveGateway id="gw_gir" name="GIR ?" default="f_default"/>
    <bpmn:sequenceFlow id="f_low" sourceRef="gw_gir" targetRef="notify_doctor">
      <bpmn:conditionExpression>evaluation_multidimensionnelle["gir"] &lt;= 2
      </bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_default" sourceRef="gw_gir" targetRef="visite"/>
    <bpmn:serviceTask id="notify_doctor" name="Prévenir le médecin">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="notify" resultVariable="notification">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="template" type="str" value="'gir_alert'"/>
            <spiffworkflow:parameter id="gir" type="int"
              value="evaluation_multidimensionnelle['gir']"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f3" sourceRef="notify_doctor" targetRef="visite"/>
    <bpmn:userTask id="visite" name="Visite à domicile">
      {form_key("visite_domicile")}
    </bpmn:userTask>
    <bpmn:boundaryEvent id="relance" attachedToRef="visite" cancelActivity="false">
      <bpmn:timerEventDefinition id="ted">
        <bpmn:timeDuration>"P7D"</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f_relance" sourceRef="relance" targetRef="end_relance"/>
    <bpmn:endEvent id="end_relance"/>
    <bpmn:sequenceFlow id="f4" sourceRef="visite" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
"""
    + TAIL
)


def parse(text, **options):
    options = {"forms": FORMS, "roles": ROLES, "operators": OPERATORS, **options}
    data = text.encode() if isinstance(text, str) else text
    return parse_bpmn(data, **options)


def changed(*replacements, text=VALID):
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def line_of(text, fragment):
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


def problems_of(text, **options):
    result = parse(text, **options)
    assert result.spec is None
    assert result.user_tasks == result.service_tasks == result.timers == []
    return [(p.element_id, p.line, p.message) for p in result.problems]


def test_a_valid_pathway_gives_its_specs_and_summary():
    result = parse(VALID)
    assert result.problems == []
    assert result.ok
    assert (result.process_id, result.name) == ("suivi_gir", "Suivi GIR")
    assert result.user_tasks == [
        {
            "id": "evaluation",
            "name": "Évaluation multidimensionnelle",
            "lane": "coordinateur",
            "form_key": "evaluation_multidimensionnelle",
            "due_in": "P2D",
        },
        {
            "id": "visite",
            "name": "Visite à domicile",
            "lane": "medecin_traitant",
            "form_key": "visite_domicile",
            "due_in": None,
        },
    ]
    assert result.service_tasks == [
        {"id": "notify_doctor", "name": "Prévenir le médecin", "operator": "notify"}
    ]
    assert result.timers == [{"id": "relance", "kind": "duration", "expression": '"P7D"'}]
    assert result.summary == {
        "user_tasks": result.user_tasks,
        "service_tasks": result.service_tasks,
        "timers": result.timers,
        "messages": {"start": [], "catch": []},
    }
    assert json.loads(json.dumps(result.summary)) == result.summary
    assert result.spec.name == "suivi_gir"
    assert result.subprocess_specs == {}
    # The summary says what the engine will see
    for task in result.user_tasks:
        spec = result.spec.task_specs[task["id"]]
        assert spec.lane == task["lane"]
        assert spec.extensions["properties"]["formKey"] == task["form_key"]
    assert result.spec.task_specs["notify_doctor"].operation_name == "notify"


def test_a_set_of_form_keys_is_enough():
    result = parse(VALID, forms=set(FORMS))
    assert result.ok
    # without field lists, keys are not checked
    assert parse(changed(('["gir"] &lt;', '["gdr"] &lt;')), forms=set(FORMS)).ok


def test_an_embedded_subprocess_passes_its_lane_on():
    text = changed(
        (
            "<bpmn:flowNodeRef>visite</bpmn:flowNodeRef>",
            "<bpmn:flowNodeRef>bilan</bpmn:flowNodeRef>",
        ),
        (
            '<bpmn:sequenceFlow id="f4" sourceRef="visite" targetRef="end"/>',
            '<bpmn:sequenceFlow id="f4" sourceRef="visite" targetRef="bilan"/>'
            '<bpmn:subProcess id="bilan"><bpmn:startEvent id="b_start"/>'
            '<bpmn:sequenceFlow id="b1" sourceRef="b_start" targetRef="synthese"/>'
            f'<bpmn:userTask id="synthese">{form_key("synthese")}</bpmn:userTask>'
            '<bpmn:sequenceFlow id="b2" sourceRef="synthese" targetRef="b_end"/>'
            '<bpmn:endEvent id="b_end"/></bpmn:subProcess>'
            '<bpmn:sequenceFlow id="f5" sourceRef="bilan" targetRef="end"/>',
        ),
    )
    # "visite" left its lane: reported; "synthese" gets medecin_traitant through "bilan"
    assert problems_of(text) == [
        ("visite", line_of(text, 'userTask id="visite"'), "Tâche utilisateur hors de tout "
         "couloir : placez-la dans le couloir du rôle qui doit la réaliser.")
    ]  # fmt: skip
    text = text.replace(
        "<bpmn:flowNodeRef>bilan</bpmn:flowNodeRef>",
        "<bpmn:flowNodeRef>bilan</bpmn:flowNodeRef><bpmn:flowNodeRef>visite</bpmn:flowNodeRef>",
    )
    result = parse(text)
    assert result.ok, result.problems
    lanes = {t["id"]: t["lane"] for t in result.user_tasks}
    assert lanes == {"evaluation": "coordinateur", "visite": "medecin_traitant",
                     "synthese": "medecin_traitant"}  # fmt: skip
    assert result.subprocess_specs["bilan"].task_specs["synthese"].lane == "medecin_traitant"


def test_over_the_size_limit():
    data = VALID.encode() + b" " * (6 * 1024 * 1024)
    assert problems_of(data) == [(None, None, "Le fichier BPMN dépasse 5 Mio.")]


def test_malformed_xml_gives_its_line():
    text = VALID[: VALID.index("<bpmn:exclusiveGateway")] + "<bpmn:exclusiveGateway id="
    [(element_id, line, message)] = problems_of(text)
    assert element_id is None
    assert line == line_of(text, "<bpmn:exclusiveGateway")
    assert message.startswith("XML mal formé : ")


def test_str_is_a_programming_error():
    with pytest.raises(TypeError):
        parse_bpmn(VALID, forms=FORMS, roles=ROLES, operators=OPERATORS)


DOCTYPE = "Les déclarations DOCTYPE et les entités XML ne sont pas autorisées."


def test_xxe_is_refused_and_never_read():
    text = changed(
        ('<?xml version="1.0" encoding="UTF-8"?>\n',
         '<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n'),
        ('name="Visite à domicile">', 'name="Visite à domicile"><bpmn:documentation>&e;'
         "</bpmn:documentation>"),
    )  # fmt: skip
    problems = problems_of(text)
    assert problems == [(None, 2, DOCTYPE)]
    assert "root:" not in str(problems)


def test_billion_laughs_is_refused():
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    text = changed(
        ('<?xml version="1.0" encoding="UTF-8"?>\n',
         f'<?xml version="1.0"?>\n<!DOCTYPE lolz [{"".join(entities)}]>\n'),
        ('name="Suivi GIR"', 'name="&lol9;"'),
    )  # fmt: skip
    assert problems_of(text) == [(None, 2, DOCTYPE)]


def test_not_a_bpmn_document():
    assert problems_of('<?xml version="1.0"?>\n<html><body/></html>') == [
        (None, 2, "Ce document n'est pas un modèle BPMN 2.0 (racine bpmn:definitions attendue).")
    ]


def test_no_executable_process():
    text = changed(('isExecutable="true"', 'isExecutable="false"'))
    assert problems_of(text) == [
        ("suivi_gir", 5, "Aucun processus exécutable : cochez « exécutable » (isExecutable).")
    ]


def test_no_start_event():
    text = changed(('<bpmn:startEvent id="start"/>', ""))
    assert problems_of(text) == [("suivi_gir", 5, "Le processus n'a pas d'événement de début.")]


def test_several_main_processes():
    text = VALID.replace(TAIL, '<bpmn:process id="autre" isExecutable="true">'
                         '<bpmn:startEvent id="s2"/></bpmn:process>' + TAIL)  # fmt: skip
    [(element_id, _, message)] = problems_of(text)
    assert element_id == "defs"
    assert message.endswith("trouvés : suivi_gir, autre.")


def test_duplicate_ids():
    text = changed(('<bpmn:endEvent id="end_relance"/>', '<bpmn:endEvent id="visite"/>'),
                   ('targetRef="end_relance"', 'targetRef="visite"'))  # fmt: skip
    first = line_of(text, 'userTask id="visite"')
    assert problems_of(text) == [
        ("visite", line_of(text, 'endEvent id="visite"'),
         f"Identifiant en double (déjà utilisé ligne {first}).")
    ]  # fmt: skip


def test_an_operator_named_like_a_task():
    # SpiffWorkflow indexes extension elements by id too: the task would be lost
    text = changed(('serviceTask id="notify_doctor"', 'serviceTask id="notify"'),
                   ('targetRef="notify_doctor"', 'targetRef="notify"'),
                   ('sourceRef="notify_doctor"', 'sourceRef="notify"'),
                   ("<bpmn:flowNodeRef>notify_doctor", "<bpmn:flowNodeRef>notify"))  # fmt: skip
    [(element_id, line, message)] = problems_of(text)
    assert (element_id, line) == ("notify", line_of(text, "serviceTaskOperator id="))
    assert message.startswith("« notify » (serviceTaskOperator) porte l'identifiant de l'élément")


def test_spiff_validation_errors_get_their_id_and_line():
    text = changed(('default="f_default"', ""))
    assert problems_of(text) == [
        ("f_default", line_of(text, 'sequenceFlow id="f_default"'),
         "Ce flux sort d'une passerelle exclusive sans condition et n'est pas le flux par défaut.")
    ]  # fmt: skip
    text = changed(("exclusiveGateway", "complexGateway"))
    assert problems_of(text) == [
        ("gw_gir", line_of(text, "complexGateway"),
         "Type d'élément non pris en charge : complexGateway.")
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("replacement", "element_id", "message"),
    [
        (('value="visite_domicile"', 'value=""'), "visite",
         "Tâche utilisateur sans formulaire (propriété formKey)."),
        (('value="visite_domicile"', 'value="bilan_social"'), "visite",
         "Formulaire inconnu : « bilan_social »."),
        (('value="P2D"', 'value="2 jours"'), "evaluation",
         "Délai (dueIn) invalide : « 2 jours » n'est pas une durée ISO 8601 "
         "(par exemple P7D, PT12H, P2W)."),
        (('name="medecin_traitant"', 'name="Médecin"'), "lane_mt",
         "Rôle inconnu : « Médecin » (rôles possibles : coordinateur, infirmier, "
         "medecin_traitant)."),
        (('name="medecin_traitant"', ""), "lane_mt",
         "Couloir sans nom : nommez-le d'après un rôle (coordinateur, infirmier, "
         "medecin_traitant)."),
        (("<bpmn:flowNodeRef>visite</bpmn:flowNodeRef>", ""), "visite",
         "Tâche utilisateur hors de tout couloir : placez-la dans le couloir du rôle qui doit "
         "la réaliser."),
        ((("userTask id=\"visite\"", "manualTask id=\"visite\""),
          ("</bpmn:userTask>\n    <bpmn:boundaryEvent", "</bpmn:manualTask><bpmn:boundaryEvent")),
         "visite",
         "Tâche manuelle non prise en charge : utilisez une tâche utilisateur."),
        (('["gir"] &lt;', '.__class__ &lt;'), "f_low", "Condition : Nom interdit : __class__"),
        (('["gir"] &lt;', '["gir"] &lt;&lt;'), "f_low",
         "Condition : Expression invalide : syntaxe incorrecte (colonne 39)"),
        (('evaluation_multidimensionnelle["gir"] &lt;', 'gir &lt;'), "f_low",
         "Condition : Nom inconnu : gir."),
        (('["gir"] &lt;', '["gdr"] &lt;'), "f_low",
         "Condition : le formulaire « evaluation_multidimensionnelle » n'a pas de champ « gdr »."),
        (('evaluation_multidimensionnelle["gir"] &lt;', 'synthese["gir"] &lt;'), "f_low",
         "Condition : le formulaire « synthese » n'est rempli par aucune tâche du parcours."),
        (('"P7D"', "P7D"), "relance", 'Valeur de minuterie à mettre entre guillemets : "P7D".'),
        (('"P7D"', '"7 jours"'), "relance",
         "Minuterie invalide : '7 jours' (attendu par exemple \"P7D\")."),
        (('"P7D"', 'open("x")'), "relance", "Minuterie : Fonction interdite : open"),
        (('"P7D"', '"P" * 10**9'), "relance",
         "Minuterie : Résultat trop long (maximum 10000 éléments)"),
        (('"P7D"', ""), "relance", "Minuterie sans valeur."),
        (('<bpmn:timeDuration>"P7D"</bpmn:timeDuration>',
          '<bpmn:timeDate>"2026-03-01T09:00:00"</bpmn:timeDate>'), "relance",
         "Minuterie invalide : '2026-03-01T09:00:00' (attendu par exemple "
         '"2026-01-31T09:00:00+01:00").'),
        (('<bpmn:timeDuration>"P7D"</bpmn:timeDuration>',
          '<bpmn:timeCycle>"R3/2026-03-01T09:00:00Z"</bpmn:timeCycle>'), "relance",
         "Minuterie invalide : 'R3/2026-03-01T09:00:00Z' (attendu par exemple \"R3/P1M\")."),
        (('<bpmn:timeDuration>"P7D"</bpmn:timeDuration>', "<bpmn:timeCycle>7</bpmn:timeCycle>"),
         "relance", "Minuterie invalide : 7 (attendu par exemple \"R3/P1M\")."),
        (('id="notify" ', 'id="sms" '), "notify_doctor",
         "Opérateur inconnu : « sms » (disponibles : notify)."),
        (('<spiffworkflow:serviceTaskOperator id="notify" resultVariable="notification">',
          '<spiffworkflow:serviceTaskOperator resultVariable="notification">'), "notify_doctor",
         "Tâche de service sans opérateur."),
        (("value=\"'gir_alert'\"", 'value="__import__(\'os\')"'), "notify_doctor",
         "Paramètre « template » : Fonction interdite : __import__"),
    ],
)  # fmt: skip
def test_each_bad_input_names_its_element(replacement, element_id, message):
    text = changed(replacement) if isinstance(replacement[0], str) else changed(*replacement)
    problems = problems_of(text)
    assert [(p[0], p[2]) for p in problems] == [(element_id, message)]
    assert problems[0][1] is not None  # every element problem has its line


@pytest.mark.parametrize(
    ("element", "kind"),
    [
        ('<bpmn:timeDuration>"PT12H"</bpmn:timeDuration>', "duration"),
        ('<bpmn:timeDuration>visite_domicile["prochaine_visite"]</bpmn:timeDuration>', "duration"),
        ('<bpmn:timeDate>"2026-03-01T09:00:00+01:00"</bpmn:timeDate>', "date"),
        ('<bpmn:timeCycle>"R3/P1M"</bpmn:timeCycle>', "cycle"),
        ('<bpmn:timeCycle>"R/2026-03-01T09:00:00Z/P1W"</bpmn:timeCycle>', "cycle"),
    ],
)
def test_timer_values(element, kind):
    text = changed(('<bpmn:timeDuration>"P7D"</bpmn:timeDuration>', element))
    result = parse(text)
    assert result.ok, result.problems
    assert result.timers[0]["kind"] == kind


@pytest.mark.parametrize(
    ("text", "valid"),
    [("P7D", True), ("PT12H", True), ("P1Y2M3DT4H5M6S", True), ("P2W", True), ("PT0S", True),
     ("P", False), ("PT", False), ("P1DT", False), ("7D", False), ("P1W2D", False),
     ("p7d", False), ("P1.5D", False), ("P7D ", False), ("", False), (None, False)],
)  # fmt: skip
def test_iso_durations(text, valid):
    assert is_iso_duration(text) is valid


SCRIPT = '<bpmn:scriptTask id="calcul"><bpmn:script>score = 1</bpmn:script></bpmn:scriptTask>'


def test_scripts_only_for_the_platform():
    text = changed(
        ('<bpmn:sequenceFlow id="f4" sourceRef="visite" targetRef="end"/>',
         f'<bpmn:sequenceFlow id="f4" sourceRef="visite" targetRef="calcul"/>{SCRIPT}'
         '<bpmn:sequenceFlow id="f5" sourceRef="calcul" targetRef="end"/>'),
        ("<spiffworkflow:properties>", "<spiffworkflow:preScript>x = 1</spiffworkflow:preScript>"
         "<spiffworkflow:properties>"),
    )  # fmt: skip
    assert [(p[0], p[2]) for p in problems_of(text)] == [
        ("evaluation", "Les scripts (preScript, postScript) ne sont pas autorisés."),
        ("calcul", "Les tâches de script ne sont pas autorisées."),
    ]
    assert parse(text, allow_scripts=True).ok


def test_a_call_activity_to_a_missing_process():
    text = changed(('<bpmn:userTask id="visite" name="Visite à domicile">',
                    '<bpmn:callActivity id="visite" calledElement="absent">'),
                   ("</bpmn:userTask>\n    <bpmn:boundaryEvent", "</bpmn:callActivity>\n    "
                    "<bpmn:boundaryEvent"))  # fmt: skip
    assert [(p[0], p[2]) for p in problems_of(text)] == [
        ("visite", "Processus appelé introuvable : « absent »."),
    ]


def test_every_problem_is_listed_in_document_order():
    text = changed(
        ('name="medecin_traitant"', 'name="kiné"'),
        ('value="visite_domicile"', 'value="inconnu"'),
        ('"P7D"', "P7D"),
    )
    result = parse(text)
    assert [(p.element_id, p.line) for p in result.problems] == [
        ("lane_mt", line_of(text, 'name="kiné"')),
        ("visite", line_of(text, 'userTask id="visite"')),
        ("relance", line_of(text, "timeDuration")),
    ]
    assert [p.message.split(" :")[0] for p in result.problems] == [
        "Rôle inconnu", "Formulaire inconnu", "Valeur de minuterie à mettre entre guillemets"
    ]  # fmt: skip


def test_problems_print_and_serialize():
    problem = Problem("Gw_1", 12, "Condition : Nom inconnu : gir.")
    assert str(problem) == "Ligne 12, élément « Gw_1 » : Condition : Nom inconnu : gir."
    assert str(Problem(None, None, "Le fichier BPMN dépasse 5 Mio.")) == (
        "Le fichier BPMN dépasse 5 Mio."
    )
    assert problem.to_dict() == {"element_id": "Gw_1", "line": 12, "message": problem.message}


# --- timers that repeat (issue 17): a boundary cycle of one second sent 41 notices a round ---

HOUR = 3600
TIMER = '<bpmn:timeDuration>"P7D"</bpmn:timeDuration>'


@pytest.mark.parametrize(
    ("element", "every"),
    [
        ('<bpmn:timeCycle>"R/PT1S"</bpmn:timeCycle>', "1 s"),
        ('<bpmn:timeCycle>"R5/PT1S"</bpmn:timeCycle>', "1 s"),
        ('<bpmn:timeCycle>"R/PT59M"</bpmn:timeCycle>', "59 min"),
        ('<bpmn:timeCycle>"R/2026-03-01T09:00:00Z/PT10M"</bpmn:timeCycle>', "10 min"),
        ('<bpmn:timeCycle>"R2/PT30M/2026-03-01T09:00:00Z"</bpmn:timeCycle>', "30 min"),
    ],
)
def test_a_timer_repeating_more_often_than_the_minimum_is_refused(element, every):
    text = changed((TIMER, element))
    assert [(p[0], p[2]) for p in problems_of(text, min_repeat=HOUR)] == [
        ("relance", f"Minuterie trop fréquente : elle se répète toutes les {every}, "
                    "le minimum est 1 h."),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "element",
    [
        '<bpmn:timeCycle>"R/PT1H"</bpmn:timeCycle>',
        '<bpmn:timeCycle>"R3/P1D"</bpmn:timeCycle>',
        '<bpmn:timeCycle>"R1/PT1S"</bpmn:timeCycle>',  # fires once: no repetition
        '<bpmn:timeDuration>"PT1S"</bpmn:timeDuration>',  # once, on no loop
        '<bpmn:timeCycle>evaluation_multidimensionnelle["aidant"]</bpmn:timeCycle>',  # at run
    ],
)
def test_timers_at_the_minimum_or_firing_once_are_fine(element):
    assert parse(changed((TIMER, element)), min_repeat=HOUR).ok


def test_without_a_minimum_nothing_is_refused():
    assert parse(changed((TIMER, '<bpmn:timeCycle>"R/PT1S"</bpmn:timeCycle>'))).ok


def test_a_start_event_cycle_is_held_to_the_minimum():
    text = changed((
        '<bpmn:startEvent id="start"/>',
        '<bpmn:startEvent id="start"><bpmn:timerEventDefinition id="st">'
        '<bpmn:timeCycle>"R/PT5M"</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>',
    ))  # fmt: skip
    assert [(p[0], p[2]) for p in problems_of(text, min_repeat=HOUR)] == [
        ("start", "Minuterie trop fréquente : elle se répète toutes les 5 min, "
                  "le minimum est 1 h."),
    ]  # fmt: skip


NOTIFY = (
    '<bpmn:serviceTask id="rappel" name="Rappel"><bpmn:extensionElements>'
    '<spiffworkflow:serviceTaskOperator id="notify"/></bpmn:extensionElements>'
    "</bpmn:serviceTask>"
)


def _waiting_loop(duration, through_a_person=False, tag="timeDuration"):
    """After the visit: wait `duration`, remind, and wait again (through a person or not)."""
    back = "controle" if through_a_person else "boucle"
    person = (
        f'<bpmn:userTask id="controle" name="Contrôle">{form_key("synthese")}</bpmn:userTask>'
        '<bpmn:sequenceFlow id="f8" sourceRef="controle" targetRef="boucle"/>'
        if through_a_person
        else ""
    )
    return changed(
        ('<bpmn:sequenceFlow id="f4" sourceRef="visite" targetRef="end"/>',
         '<bpmn:sequenceFlow id="f4" sourceRef="visite" targetRef="boucle"/>'
         '<bpmn:exclusiveGateway id="boucle"/>'
         '<bpmn:sequenceFlow id="f5" sourceRef="boucle" targetRef="attente"/>'
         '<bpmn:intermediateCatchEvent id="attente"><bpmn:timerEventDefinition id="ta">'
         f"<bpmn:{tag}>{duration}</bpmn:{tag}></bpmn:timerEventDefinition>"
         '</bpmn:intermediateCatchEvent>'
         f'<bpmn:sequenceFlow id="f6" sourceRef="attente" targetRef="rappel"/>{NOTIFY}'
         f'<bpmn:sequenceFlow id="f7" sourceRef="rappel" targetRef="{back}"/>{person}'),
        ('<bpmn:endEvent id="end"/>', ""),
        ("<bpmn:flowNodeRef>end</bpmn:flowNodeRef>",
         "<bpmn:flowNodeRef>controle</bpmn:flowNodeRef>"),
    )  # fmt: skip


def _boundary_loop(duration):
    """The visit's reminder, interrupting, leads back to the visit: a loop of one timer."""
    return changed(
        ('<bpmn:sequenceFlow id="f3" sourceRef="notify_doctor" targetRef="visite"/>',
         '<bpmn:sequenceFlow id="f3" sourceRef="notify_doctor" targetRef="avant_visite"/>'
         '<bpmn:exclusiveGateway id="avant_visite"/>'
         '<bpmn:sequenceFlow id="f3b" sourceRef="avant_visite" targetRef="visite"/>'),
        ('<bpmn:sequenceFlow id="f_default" sourceRef="gw_gir" targetRef="visite"/>',
         '<bpmn:sequenceFlow id="f_default" sourceRef="gw_gir" targetRef="avant_visite"/>'),
        ('cancelActivity="false"', 'cancelActivity="true"'),
        (TIMER, f"<bpmn:timeDuration>{duration}</bpmn:timeDuration>"),
        ('<bpmn:sequenceFlow id="f_relance" sourceRef="relance" targetRef="end_relance"/>',
         f'<bpmn:sequenceFlow id="f_relance" sourceRef="relance" targetRef="rappel"/>{NOTIFY}'
         '<bpmn:sequenceFlow id="f_rappel" sourceRef="rappel" targetRef="avant_visite"/>'),
        ('<bpmn:endEvent id="end_relance"/>', ""),
    )  # fmt: skip


LOOP = "Minuterie en boucle : elle se réarme sans que personne n'agisse, toutes les {every} ; "
LOOP += "le minimum est 1 h (ajoutez une étape ou allongez le délai)."


@pytest.mark.parametrize(
    ("text", "element", "every"),
    [
        (_waiting_loop('"PT1M"'), "attente", "1 min"),
        (_waiting_loop('"2026-03-01T09:00:00+01:00"', tag="timeDate"), "attente", "0 s"),
        (_boundary_loop('"PT1S"'), "relance", "1 s"),
    ],
)  # fmt: skip
def test_a_timer_that_rearms_itself_in_a_loop_is_held_to_the_minimum(text, element, every):
    assert [(p[0], p[2]) for p in problems_of(text, min_repeat=HOUR)] == [
        (element, LOOP.format(every=every))
    ]


@pytest.mark.parametrize(
    "text",
    [
        _waiting_loop('"PT1H"'),
        _waiting_loop('"PT1M"', through_a_person=True),  # someone acts at each pass
        _boundary_loop('"P2D"'),
        _waiting_loop('visite_domicile["prochaine_visite"]'),  # checked when armed
    ],
)
def test_loops_paced_by_a_person_or_the_minimum_are_fine(text):
    result = parse(text, min_repeat=HOUR)
    assert result.ok, result.problems
