"""Safe parsing and deploy-time validation of a BPMN pathway.

`parse_bpmn` never runs the process. It reads the bytes with a hardened lxml parser (no DTD, no
entities, no network), checks the document against what Parcours can run (forms, care roles,
service operators, restricted expressions), then lets SpiffWorkflow build the specs. Every
problem found is reported, with the element id and the line, so that a designer can fix them
all in one go; SpiffWorkflow itself stops at the first error of each process.

Our checks read the XML rather than the specs: they keep working when SpiffWorkflow fails on
another element, and every element keeps its line. They read it the way SpiffWorkflow 3.2 does
(extension properties, lanes by `flowNodeRef`, the first timer definition) so that the summary
matches what the engine will see at run time.

Rules that are ours, not BPMN's:
- exactly one main process: an executable process that no call activity calls;
- the main process may declare its purpose with the extension property `purpose`:
  `patient` (the default: it runs on a patient's dossier) or `platform` (a process of the
  platform itself, which never does); only a platform process may have lanes of
  `platform_roles` and name forms of `platform_forms`;
- every user task sits in a lane (directly, or through the embedded subprocess that holds it)
  and the lane is named after a care role; a user task outside any lane is refused, since
  nobody could be offered it. Lanes that only group other lanes are not checked;
- manual tasks are refused: a human step is a user task with a form (`formKey`); so is a task
  without a type (`bpmn:task`), which SpiffWorkflow would offer as a step with no form;
- with `lane_check`, each user task's lane must be able to fill its form (the habilitations);
- with `max_cardinality`, a loop states its maximum (loopMaximum) and neither it nor a constant
  cardinality of a multi-instance goes beyond (a cardinality read from data is checked at run
  time);
- script tasks and spiffworkflow pre/post-scripts are refused unless `allow_scripts`;
- the names an expression reads must be the key of a form filled by a user task of the
  document, a service task's result variable, a message variable, a data object, or one of
  `variables` (names the engine itself provides);
- with `min_repeat` (seconds), no timer fires more often than that by itself: a cycle
  (R/PT1S) repeats at least that far apart, and a timer that re-arms itself through a loop
  of sequence flows where nobody acts (no user task, receive task or message to wait for)
  adds up to at least that per pass. A timer whose value reads data is checked when it is
  armed (`Parsed.rearming` lists those on such a loop).
"""

import heapq
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from app.engine.expressions import ExpressionError, compile_check, evaluate, references
from app.engine.iso8601 import (
    TIMER_KINDS,
    cycle_of,
    duration_of,
    french_duration,
    is_iso_duration,
    repeats,
)

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN, "spiffworkflow": SPIFF}
MAX_BYTES = 5 * 1024 * 1024
SUBPROCESS_TAGS = {"subProcess", "transaction", "adHocSubProcess"}
# What makes a loop wait for someone (see _Checker.check_timer_loops).
CAUGHT = (
    "bpmn:messageEventDefinition | bpmn:signalEventDefinition | bpmn:conditionalEventDefinition"
)
WAITING = (
    ".//bpmn:userTask | .//bpmn:receiveTask | .//bpmn:manualTask"
    f" | .//bpmn:intermediateCatchEvent[{CAUGHT.replace(' | ', ' or ')}]"
)
# Expressions checked for syntax only: what they read is not (only) form data
OTHER_EXPRESSIONS = (
    "//bpmn:loopCardinality | //bpmn:completionCondition | //bpmn:loopCondition"
    " | //spiffworkflow:messagePayload | //bpmn:correlationPropertyRetrievalExpression/*"
)


@dataclass(frozen=True)
class Problem:
    """One problem of a document: French `message`, for the designer."""

    element_id: str | None
    line: int | None
    message: str

    def __str__(self):
        where = [f"ligne {self.line}"] if self.line else []
        where += [f"élément « {self.element_id} »"] if self.element_id else []
        if not where:
            return self.message
        where = ", ".join(where)
        return f"{where[0].upper()}{where[1:]} : {self.message}"

    def to_dict(self):
        return {"element_id": self.element_id, "line": self.line, "message": self.message}


@dataclass
class Parsed:
    """The result of `parse_bpmn`. `spec`, `subprocess_specs` and the summaries are only
    filled when `problems` is empty."""

    process_id: str | None = None
    name: str | None = None
    purpose: str = "patient"  # or "platform": the main process's extension property
    problems: list = field(default_factory=list)
    spec: object = None
    subprocess_specs: dict = field(default_factory=dict)
    user_tasks: list = field(default_factory=list)  # {"id", "name", "lane", "form_key", "due_in"}
    service_tasks: list = field(default_factory=list)  # {"id", "name", "operator"}
    timers: list = field(default_factory=list)  # {"id", "kind", "expression"}
    # Message names: those that start the main process, those some event waits for.
    messages: dict = field(default_factory=lambda: {"start": [], "catch": []})
    # Timers whose value reads data and that re-arm on a loop nobody paces: the engine
    # holds their value to the minimum when it arms them.
    rearming: set = field(default_factory=set)

    @property
    def ok(self):
        return not self.problems

    @property
    def summary(self):
        """What a deployed version keeps about its steps (JSON-serializable)."""
        return {
            "user_tasks": self.user_tasks,
            "service_tasks": self.service_tasks,
            "timers": self.timers,
            "messages": self.messages,
        }


def parse_bpmn(
    data, *, forms, roles, operators, allow_scripts=False, max_bytes=MAX_BYTES, variables=(),
    min_repeat=0, platform_roles=(), platform_forms=(), platform_allowed=False,
    lane_check=None, max_cardinality=None,
):  # fmt: skip
    """Parse and check the BPMN document `data` (bytes, as uploaded). Never raises for a bad
    document: everything wrong is in `Parsed.problems`.

    forms: the forms a user task may name, either a mapping form key -> top-level field names
      (then `form["field"]` in expressions is checked too; None as value: fields unknown),
      or just a collection of form keys.
    roles: the care roles, i.e. the allowed lane names.
    operators: the names of the service-task operators (connectors) available.
    allow_scripts: accept script tasks and pre/post-scripts (pathways of the platform itself).
    variables: names the engine provides to expressions besides form data.
    min_repeat: the shortest period, in seconds, at which a timer may fire again by itself
      (0: no limit).
    platform_roles, platform_forms: the lanes and forms only a platform process may use.
    platform_allowed: whether the document may be a platform process (a platform-wide
      pathway deployed by the platform's administrators).
    lane_check: a function (lane, form key) -> None, or why that lane may not fill that form.
    max_cardinality: the most passes of a loop and instances of a multi-instance activity.
    """
    if not isinstance(data, bytes | bytearray):
        raise TypeError("parse_bpmn expects bytes")  # lxml refuses str with an encoding
    result = Parsed()
    if len(data) > max_bytes:
        size = f"{max_bytes / 2**20:g}".replace(".", ",")
        result.problems.append(Problem(None, None, f"Le fichier BPMN dépasse {size} Mio."))
        return result
    root = _read_xml(bytes(data), result.problems)
    if root is None:
        return result
    checker = _Checker(root, forms, roles, operators, allow_scripts, variables, min_repeat)
    checker.platform_roles, checker.platform_forms = set(platform_roles), set(platform_forms)
    checker.platform_allowed = platform_allowed
    checker.lane_check, checker.max_cardinality = lane_check, max_cardinality
    checker.run()
    result.process_id, result.purpose = checker.main_id, checker.purpose
    if checker.main is not None:
        result.name = checker.main.get("name") or checker.main_id
    result.problems = checker.problems
    if checker.main is not None and not checker.duplicates:
        spec, subprocess_specs = _spiff_specs(root, checker)
        if not result.problems:
            result.spec, result.subprocess_specs = spec, subprocess_specs
            result.user_tasks = checker.user_tasks
            result.service_tasks = checker.service_tasks
            result.timers = checker.timers
            result.messages = checker.message_names()
            result.rearming = checker.rearming
    result.problems.sort(key=lambda p: (p.line is None, p.line or 0))
    return result


def _read_xml(data, problems):
    """The root element, or None with a problem. One parser per call: lxml parsers must not
    be shared between threads. With resolve_entities=False nothing is ever expanded (XXE,
    billion laughs); the DOCTYPE is then refused outright, BPMN never needs one."""
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_comments=True, remove_pis=True,
    )  # fmt: skip
    doctype = data.find(b"<!DOCTYPE")
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as err:
        if doctype < 0:  # else libxml2 stopped on an entity: say why we refuse them all
            problems.append(Problem(None, err.lineno or None, f"XML mal formé : {err.msg}"))
            return None
        root = None
    if root is None or root.getroottree().docinfo.doctype:
        line = data.count(b"\n", 0, doctype) + 1 if doctype >= 0 else 1
        message = "Les déclarations DOCTYPE et les entités XML ne sont pas autorisées."
        problems.append(Problem(None, line, message))
        return None
    if root.tag != f"{{{BPMN}}}definitions":
        message = "Ce document n'est pas un modèle BPMN 2.0 (racine bpmn:definitions attendue)."
        problems.append(Problem(None, root.sourceline, message))
        return None
    return root


def stored_text(data):
    """(the document as text to keep, problems): decoded as its XML declaration or byte order
    mark says, its declaration then saying UTF-8. A UTF-8 document is kept as uploaded."""
    problems = []
    root = _read_xml(bytes(data), problems)
    if root is None:
        return None, problems
    if (root.getroottree().docinfo.encoding or "").upper() in ("UTF-8", "UTF8"):
        try:
            return bytes(data).decode("utf-8"), []
        except UnicodeDecodeError:
            pass  # a byte order mark of UTF-16 without a declaration: lxml read it right
    # Read again as _read_xml did (which refused a DOCTYPE), comments and instructions kept.
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False,
    )  # fmt: skip
    tree = etree.fromstring(bytes(data), parser=parser).getroottree()
    text = etree.tostring(tree, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{text}', []


def _local(element):
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


class _Checker:
    """Walks the XML once per kind of element; collects problems and the summary."""

    def __init__(self, root, forms, roles, operators, allow_scripts, variables, min_repeat=0):
        self.root, self.forms, self.allow_scripts = root, forms, allow_scripts
        self.min_repeat = min_repeat
        self.timer_values = {}  # event id -> (kind, constant value or None: reads data)
        self.rearming = set()
        self.roles, self.operators, self.variables = set(roles), set(operators), set(variables)
        self.problems, self.duplicates = [], set()
        self.main = self.main_id = None
        self.purpose = "patient"
        self.platform_roles, self.platform_forms = set(), set()
        self.platform_allowed = False
        self.executable = []
        self.user_tasks, self.service_tasks, self.timers = [], [], []
        self.lanes = {}  # node id -> lane name
        self.form_keys = {}  # form key used by a user task -> its fields, None if unknown
        self.known_names = set()
        self.lane_check = self.max_cardinality = None

    def add(self, element, message, element_id=None):
        element_id = element_id or (element.get("id") if element is not None else None)
        line = element.sourceline if element is not None else None
        self.problems.append(Problem(element_id, line, message))

    def xpath(self, node, path):
        return node.xpath(path, namespaces=NS)

    def in_processes(self, path):
        return [node for process in self.executable for node in self.xpath(process, path)]

    def run(self):
        self.check_ids()
        self.check_processes()
        self.check_purpose()
        for ref in self.xpath(self.root, "//bpmn:flowNodeRef"):  # the last one wins, as in
            if ref.text is not None:  # SpiffWorkflow (BpmnParser._add_diagram_indexes)
                self.lanes[ref.text] = ref.getparent().get("name")
        self.check_lanes()
        self.known_names = self.collect_names()
        for task in self.in_processes(".//bpmn:userTask | .//bpmn:manualTask | .//bpmn:task"):
            self.check_human_task(task)
        for task in self.in_processes(".//bpmn:serviceTask"):
            self.check_service_task(task)
        for event in self.in_processes(".//*[bpmn:timerEventDefinition]"):
            self.check_timer(event)
        self.check_timer_loops()
        for flow in self.in_processes(".//bpmn:sequenceFlow[bpmn:conditionExpression]"):
            condition = self.xpath(flow, "bpmn:conditionExpression")[0]
            self.check_expression(condition, condition.text, "Condition", flow.get("id"))
        for condition in self.in_processes(".//bpmn:conditionalEventDefinition/bpmn:condition"):
            event_id = condition.getparent().getparent().get("id")
            self.check_expression(condition, condition.text, "Condition", event_id)
        self.check_other_expressions()
        self.check_scripts()
        if self.max_cardinality is not None:
            self.check_loops()

    def message_names(self):
        """{"start": messages that start the main process, "catch": those caught later}."""
        names = {m.get("id"): m.get("name") or m.get("id") for m in self.xpath(
            self.root, "bpmn:message")}  # fmt: skip
        start, catch = set(), set()
        for definition in self.in_processes(".//bpmn:messageEventDefinition[@messageRef]"):
            event = definition.getparent()
            if _local(event) not in ("startEvent", "intermediateCatchEvent", "boundaryEvent"):
                continue
            name = names.get(definition.get("messageRef"))
            main_start = _local(event) == "startEvent" and event.getparent() is self.main
            (start if main_start else catch).add(name)
        for task in self.in_processes(".//bpmn:receiveTask[@messageRef]"):
            catch.add(names.get(task.get("messageRef")))
        return {"start": sorted(start - {None}), "catch": sorted(catch - {None})}

    def check_ids(self):
        """Ids are unique in the document. SpiffWorkflow indexes every element with an id,
        extension elements included, and the last one wins: a serviceTaskOperator whose id
        (the operator name) is also a task id breaks the task. Extension elements may share
        ids among themselves (two tasks calling the same operator)."""
        model = {}
        for element in self.root.iter():
            element_id = element.get("id") if isinstance(element.tag, str) else None
            if element_id is None or etree.QName(element).namespace == SPIFF:
                continue
            if element_id in model:
                first_line = model[element_id].sourceline
                self.add(element, f"Identifiant en double (déjà utilisé ligne {first_line}).")
                self.duplicates.add(element_id)
            else:
                model[element_id] = element
        for element in self.xpath(self.root, "//spiffworkflow:*[@id]"):
            clash = model.get(element.get("id"))
            if clash is not None:
                owner = next(element.iterancestors(f"{{{BPMN}}}*"), None)
                owner = owner.getparent() if _local(owner) == "extensionElements" else owner
                message = (
                    f"« {element.get('id')} » ({_local(element)}) porte l'identifiant de "
                    f"l'élément ligne {clash.sourceline} : renommez cet élément."
                )
                self.add(element, message, owner.get("id") if owner is not None else None)
                self.duplicates.add(element.get("id"))

    def check_processes(self):
        processes = self.xpath(self.root, "bpmn:process")
        self.executable = [p for p in processes if p.get("isExecutable", "true") == "true"]
        if not self.executable:
            message = "Aucun processus exécutable : cochez « exécutable » (isExecutable)."
            self.add(processes[0] if processes else self.root, message)
            return
        called = set(self.xpath(self.root, "//bpmn:callActivity/@calledElement"))
        mains = [p for p in self.executable if p.get("id") not in called]
        if len(mains) == 1:
            self.main, self.main_id = mains[0], mains[0].get("id")
        else:
            ids = ", ".join(p.get("id") or "?" for p in mains) or "aucun"
            message = (
                f"Un seul processus principal (appelé par aucun autre) attendu ; trouvés : {ids}."
            )
            self.add(self.root, message)
        for process in self.executable:
            if not self.xpath(process, "bpmn:startEvent"):
                self.add(process, "Le processus n'a pas d'événement de début.")
        executable = {p.get("id") for p in self.executable}
        for call in self.in_processes(".//bpmn:callActivity"):
            called_id = call.get("calledElement")
            if called_id not in executable:
                missing = called_id not in {p.get("id") for p in processes}
                reason = "introuvable" if missing else "non exécutable"
                self.add(call, f"Processus appelé {reason} : « {called_id} ».")

    def check_purpose(self):
        """The main process's `purpose` property, if any: patient (default) or platform."""
        if self.main is None:
            return
        declared = self.properties(self.main).get("purpose")
        if declared is None:
            return
        if declared not in ("patient", "platform"):
            message = f"Finalité inconnue : « {declared} » (patient ou platform)."
            self.add(self.main, message)
            return
        if declared == "platform" and not self.platform_allowed:
            message = (
                "Un processus interne de la plateforme (purpose = platform) est commun à "
                "toute la plateforme : il ne peut pas appartenir à une structure."
            )
            self.add(self.main, message)
            return
        self.purpose = declared

    def check_lanes(self):
        roles = self.roles | (self.platform_roles if self.purpose == "platform" else set())
        allowed = ", ".join(sorted(roles)) or "aucun"
        for lane in self.in_processes(".//bpmn:lane[not(bpmn:childLaneSet)]"):
            name = lane.get("name")
            if not name:
                self.add(lane, f"Couloir sans nom : nommez-le d'après un rôle ({allowed}).")
            elif name in self.platform_roles and name not in roles:
                self.add(lane, f"Le couloir « {name} » est réservé aux processus de la "
                               "plateforme (propriété purpose = platform).")  # fmt: skip
            elif name not in roles:
                self.add(lane, f"Rôle inconnu : « {name} » (rôles possibles : {allowed}).")

    def lane_of(self, node):
        # An embedded subprocess passes its lane to what it contains (SpiffWorkflow's
        # SubprocessParser); the outermost one with a lane wins.
        chain = [a for a in node.iterancestors() if _local(a) in SUBPROCESS_TAGS]
        for element in [*reversed(chain), node]:
            lane = self.lanes.get(element.get("id"))
            if lane is not None:
                return lane
        return None

    def collect_names(self):
        """The names expressions may read."""
        for task in self.in_processes(".//bpmn:userTask"):
            key = self.properties(task).get("formKey")
            if key and key in self.forms:
                fields = self.forms.get(key) if isinstance(self.forms, Mapping) else None
                self.form_keys[key] = set(fields) if fields is not None else None
        names = set(self.form_keys) | self.variables
        for operator in self.in_processes(".//spiffworkflow:serviceTaskOperator"):
            task = operator.getparent().getparent()
            names.add(operator.get("resultVariable") or f"spiff__{task.get('id')}_result")
        for variable in self.in_processes(".//spiffworkflow:messageVariable"):
            names.add((variable.text or "").strip())
        names.update(obj.get("id") for obj in self.in_processes(".//bpmn:dataObject"))
        return names

    def properties(self, task):
        path = "bpmn:extensionElements/spiffworkflow:properties//spiffworkflow:property"
        return {p.get("name"): p.get("value") for p in self.xpath(task, path)}

    def check_human_task(self, task):
        if _local(task) == "manualTask":
            message = "Tâche manuelle non prise en charge : utilisez une tâche utilisateur."
            self.add(task, message)
            return
        if _local(task) == "task":
            message = ("Tâche sans type : choisissez une tâche utilisateur (avec un formulaire) "
                       "ou une tâche de service.")  # fmt: skip
            self.add(task, message)
            return
        lane = self.lane_of(task)
        if lane is None and task.get("id") not in self.lanes:
            self.add(task, "Tâche utilisateur hors de tout couloir : placez-la dans le "
                           "couloir du rôle qui doit la réaliser.")  # fmt: skip
        properties = self.properties(task)
        form_key = properties.get("formKey") or None
        if form_key is None:
            self.add(task, "Tâche utilisateur sans formulaire (propriété formKey).")
        elif form_key not in self.forms:
            self.add(task, f"Formulaire inconnu : « {form_key} ».")
        elif form_key in self.platform_forms and self.purpose != "platform":
            self.add(task, f"Le formulaire « {form_key} » est réservé aux processus de la "
                           "plateforme : il ne se remplit pas sur un dossier.")  # fmt: skip
        elif lane is not None and self.lane_check is not None:
            refused = self.lane_check(lane, form_key)
            if refused:
                self.add(task, refused)
        due_in = properties.get("dueIn") or None
        if due_in is not None and not is_iso_duration(due_in):
            self.add(task, f"Délai (dueIn) invalide : « {due_in} » n'est pas une durée "
                           "ISO 8601 (par exemple P7D, PT12H, P2W).")  # fmt: skip
        self.user_tasks.append(
            {"id": task.get("id"), "name": task.get("name"), "lane": lane,
             "form_key": form_key, "due_in": due_in}
        )  # fmt: skip

    def check_service_task(self, task):
        path = "bpmn:extensionElements/spiffworkflow:serviceTaskOperator/@id"
        name = next(iter(self.xpath(task, path)), None)
        if not name:
            self.add(task, "Tâche de service sans opérateur.")
        elif name not in self.operators:
            available = ", ".join(sorted(self.operators)) or "aucun"
            self.add(task, f"Opérateur inconnu : « {name} » (disponibles : {available}).")
        for parameter in self.xpath(task, ".//spiffworkflow:parameter[@value]"):
            label = f"Paramètre « {parameter.get('id')} »"
            self.check_expression(parameter, parameter.get("value"), label, task.get("id"))
        self.service_tasks.append(
            {"id": task.get("id"), "name": task.get("name"), "operator": name}
        )

    def check_timer(self, event):
        definition = self.xpath(event, "bpmn:timerEventDefinition")[0]
        found = [
            (value, *TIMER_KINDS[tag])
            for tag in TIMER_KINDS
            for value in self.xpath(definition, f".//bpmn:{tag}")
        ]  # SpiffWorkflow takes the first one: timeDate, else timeDuration, else timeCycle
        if not found or not (found[0][0].text or "").strip():
            self.add(event, "Minuterie sans valeur.")
            return
        value, kind, is_valid, example = found[0]
        text = value.text.strip()
        self.timers.append({"id": event.get("id"), "kind": kind, "expression": text})
        if is_valid(text):  # the designer forgot the quotes: the value is an expression
            message = f'Valeur de minuterie à mettre entre guillemets : "{text}".'
            self.add(value, message, event.get("id"))
            return
        if not self.check_expression(value, text, "Minuterie", event.get("id")):
            return
        if references(text)[0]:
            self.timer_values[event.get("id")] = (kind, None)
            return  # reads data: only known at run time
        try:
            result = evaluate(text, {})
        except ExpressionError as err:
            self.add(value, f"Minuterie : {err.message}", event.get("id"))
            return
        if not is_valid(result):
            message = f'Minuterie invalide : {result!r} (attendu par exemple "{example}").'
            self.add(value, message, event.get("id"))
            return
        self.timer_values[event.get("id")] = (kind, result)
        if kind == "cycle" and self.min_repeat and repeats(result):
            period = cycle_of(result)[1].total_seconds()
            if period < self.min_repeat:
                self.add(value, too_frequent(period, self.min_repeat), event.get("id"))

    def timer_seconds(self, event_id):
        """How long the timer `event_id` waits, in seconds, as a loop counts it: a date may be
        past already (0); a value read from data is held to the minimum when armed."""
        kind, value = self.timer_values.get(event_id, (None, None))
        if value is None:
            return self.min_repeat if kind in ("duration", "cycle") else 0
        if kind == "duration":
            return duration_of(value).total_seconds()
        if kind == "cycle":
            return cycle_of(value)[1].total_seconds()
        return 0

    def waits_for_someone(self, node):
        """Whether reaching `node` waits for a person or the outside world: a user or receive
        task, a message, signal or condition to catch, or a subprocess (or called process)
        holding one."""
        tag = _local(node)
        if tag in ("userTask", "receiveTask", "manualTask"):
            return True
        if tag == "intermediateCatchEvent":
            return bool(self.xpath(node, CAUGHT))
        if tag in SUBPROCESS_TAGS:
            return bool(self.xpath(node, WAITING))
        if tag == "callActivity":
            called = self.xpath(self.root, "bpmn:process[@id=$i]", i=node.get("calledElement"))
            return bool(called) and bool(self.xpath(called[0], WAITING))
        return False

    def check_timer_loops(self):
        """A timer that comes back to itself (an intermediate timer) or to the activity that
        carries it (a boundary timer) through flows where nobody acts fires again and again
        by itself: each pass must take at least `min_repeat`, counting every timer on the
        way. Values read from data count as the minimum; those timers are `rearming`."""
        nodes = {n.get("id"): n for n in self.in_processes(".//*[@id]")}
        after = {}
        for flow in self.in_processes(".//bpmn:sequenceFlow"):
            after.setdefault(flow.get("sourceRef"), []).append(flow.get("targetRef"))
        for event_id, (_, value) in sorted(self.timer_values.items()):
            event = nodes.get(event_id)
            if event is None or _local(event) == "startEvent":
                continue
            target = event.get("attachedToRef") if _local(event) == "boundaryEvent" else event_id
            shortest = self.shortest_loop(event_id, target, nodes, after)
            if shortest is None:
                continue
            if value is None:
                self.rearming.add(event_id)
            if self.min_repeat and shortest < self.min_repeat:
                message = (
                    "Minuterie en boucle : elle se réarme sans que personne n'agisse, toutes "
                    f"les {french_duration(shortest)} ; le minimum est "
                    f"{french_duration(self.min_repeat)} (ajoutez une étape ou allongez le "
                    "délai)."
                )
                self.add(event, message)

    def shortest_loop(self, start, target, nodes, after):
        """The seconds of timers on the shortest way from the timer `start` back to `target`
        that waits for nobody, or None when every way back waits for someone."""
        queue, seen = [(self.timer_seconds(start), start)], set()
        while queue:
            spent, node_id = heapq.heappop(queue)
            if node_id in seen:
                continue
            seen.add(node_id)
            for next_id in after.get(node_id, []):
                if next_id == target:
                    return spent
                node = nodes.get(next_id)
                if node is None or next_id in seen or self.waits_for_someone(node):
                    continue
                heapq.heappush(queue, (spent + self.timer_seconds(next_id), next_id))
        return None

    def check_expression(self, element, text, label, element_id):
        """Checks an expression on task data; True when it is fine."""
        error = compile_check(text or "")
        if error:
            self.add(element, f"{label} : {error}", element_id)
            return False
        names, keys = references(text)
        ok = True
        for name in sorted(names - self.known_names):
            ok = False
            if name in self.forms:
                message = f"le formulaire « {name} » n'est rempli par aucune tâche du parcours"
            else:
                message = f"Nom inconnu : {name}"
            self.add(element, f"{label} : {message}.", element_id)
        for name, key in sorted(keys):
            fields = self.form_keys.get(name)
            if fields is not None and key not in fields:
                ok = False
                message = f"{label} : le formulaire « {name} » n'a pas de champ « {key} »."
                self.add(element, message, element_id)
        return ok

    def check_other_expressions(self):
        for element in self.xpath(self.root, OTHER_EXPRESSIONS):
            error = compile_check(element.text or "")
            if error:
                owner = next((e for e in element.iterancestors() if e.get("id")), None)
                owner_id = owner.get("id") if owner is not None else None
                self.add(element, f"Expression : {error}", owner_id)

    def check_loops(self):
        """Loops state their maximum, constant cardinalities stay within `max_cardinality`."""
        most = self.max_cardinality
        for loop in self.in_processes(".//bpmn:standardLoopCharacteristics"):
            owner, maximum = loop.getparent(), (loop.get("loopMaximum") or "").strip()
            if not maximum:
                message = f"Boucle sans maximum : indiquez loopMaximum (au plus {most} passages)."
            elif not maximum.isdigit():
                message = f"loopMaximum invalide : « {maximum} » n'est pas un nombre entier."
            elif int(maximum) > most:
                message = f"Boucle de {int(maximum)} passages : au plus {most} (loopMaximum)."
            else:
                continue
            self.add(loop, message, owner.get("id"))
        for cardinality in self.in_processes(
            ".//bpmn:multiInstanceLoopCharacteristics/bpmn:loopCardinality"
        ):
            text, owner = (cardinality.text or "").strip(), cardinality.getparent().getparent()
            if compile_check(text) or references(text)[0]:
                continue  # reported with the other expressions, or read from data: at run time
            try:
                count = evaluate(text, {})
            except ExpressionError as err:
                self.add(cardinality, f"loopCardinality : {err.message}", owner.get("id"))
                continue
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                message = "loopCardinality : un nombre entier positif est attendu."
            elif count > most:
                message = (
                    f"Instances multiples : {count} instances, au plus {most} (loopCardinality)."
                )
            else:
                continue
            self.add(cardinality, message, owner.get("id"))

    def check_scripts(self):
        if self.allow_scripts:
            return
        for task in self.in_processes(".//bpmn:scriptTask"):
            self.add(task, "Les tâches de script ne sont pas autorisées.")
        path = ".//spiffworkflow:preScript | .//spiffworkflow:postScript"
        for script in self.in_processes(path):
            owner = script.getparent().getparent()
            message = "Les scripts (preScript, postScript) ne sont pas autorisés."
            self.add(script, message, owner.get("id"))


def too_frequent(period, minimum):
    """The problem of a cycle that repeats every `period` seconds, under `minimum`."""
    return (
        f"Minuterie trop fréquente : elle se répète toutes les {french_duration(period)}, "
        f"le minimum est {french_duration(minimum)}."
    )


def _spiff_specs(root, checker):
    """Let SpiffWorkflow build the specs; its ValidationExceptions become problems, unless
    one of our checks already reported the same element."""
    parser = SpiffBpmnParser()
    reported = {p.element_id for p in checker.problems}
    failed = False

    def report(err):
        nonlocal failed
        failed = True
        problem = _spiff_problem(root, err)
        if problem.element_id is None or problem.element_id not in reported:
            checker.problems.append(problem)

    try:
        parser.add_bpmn_xml(root, filename="pathway.bpmn")
    except Exception as err:  # an uploaded document must never crash the server
        report(err)
        return None, {}
    for process in checker.executable:
        if checker.xpath(process, "bpmn:startEvent"):  # already reported otherwise
            try:
                parser.get_spec(process.get("id"))
            except Exception as err:
                report(err)
    # The specs only matter for a valid document; and SpiffWorkflow keeps a half-built spec
    # after a failure, then returns it silently.
    if failed or checker.problems:
        return None, {}
    try:
        return parser.get_spec(checker.main_id), parser.get_subprocess_specs(checker.main_id)
    except Exception as err:
        report(err)
        return None, {}


_SPIFF_MESSAGES = [  # SpiffWorkflow's message (a regular expression) -> ours
    ("No start event found", "Le processus n'a pas d'événement de début."),
    ("Non-default exclusive outgoing sequence flow without condition",
     "Ce flux sort d'une passerelle exclusive sans condition et n'est pas le flux par défaut."),
    ("There is no support implemented for this task type",
     "Type d'élément non pris en charge : {tag}."),
    (r"we found two items, perhaps a form has the same ID\? \((.*)\)",
     "Un flux sortant mène à « {0} », qui n'existe pas dans ce processus."),
    ("Multiple outgoing flows are not supported",
     "Un seul flux sortant possible ici : ajoutez une passerelle."),
    ("Unsupported Catch Event", "Événement attaché sans définition (minuterie, message…)."),
    ("Exactly one start event is required",
     "Un sous-processus doit avoir exactement un événement de début."),
    ("A SubWorkflow Must contain an End event",
     "Un sous-processus doit avoir un événement de fin."),
    ("Unknown Time Specification", "Minuterie sans date, durée ni cycle."),
]  # fmt: skip


def _spiff_problem(root, err):
    """A Problem from a SpiffWorkflow exception. ValidationException.line_number is always
    '' for model errors (it reads node.line_number; lxml calls it sourceline), so the line
    is found again from the element id."""
    text = str(err).strip().rstrip(".").strip()
    element_id = getattr(err, "id", None) or None
    line = getattr(err, "line_number", None) or None
    if line is None and element_id:
        hits = root.xpath("//*[@id=$i]", i=element_id)
        line = hits[0].sourceline if hits else None
    tag = (getattr(err, "tag", "") or "").split("}")[-1].split(":")[-1]
    for pattern, french in _SPIFF_MESSAGES:
        match = re.search(pattern, text)
        if match:
            return Problem(element_id, line, french.format(*match.groups(), tag=tag))
    prefix = "Modèle BPMN invalide" if isinstance(err, ValidationException) else "Erreur"
    return Problem(element_id, line, f"{prefix} : {text[:300]}")
