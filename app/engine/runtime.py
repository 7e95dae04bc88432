"""Running pathway instances: the run-time half of the engine adapter.

Design:
- One spec per process and version. `Runtime.for_version(version)` parses the deployed BPMN once
  (with `parse_bpmn`, the same hardened reading and checks as at deploy time) and keeps the
  Runtime in a small LRU keyed by (pathway, version) and checked against the BPMN's digest.
- Instance-only state. `Instance.dump()` writes the task tree, data and events, never the spec;
  `Runtime.restore(state)` re-attaches the cached spec and refuses a state made with another BPMN.
- No user-supplied code runs. SpiffWorkflow's PythonScriptEngine evaluates with `eval`; ours
  sends every expression (gateway conditions, timer values, service-task parameters, message
  payloads and correlations) to `app.engine.expressions.evaluate`. Script tasks and pre/post
  scripts exist only in trusted pathways (deployment refuses them elsewhere) and run through the
  same evaluator: one `name = expression` assignment per line, nothing else.
- Task data stays plain JSON: form data, message payloads and connector results are copied
  through JSON (sets become lists, dates ISO strings), and dictionary keys that SpiffWorkflow's
  serializer would misread (`typename`) are escaped inside the engine ("%" prefix) and
  unescaped whenever data leaves it (expressions, connectors, `Instance.data()`).
- Timers have no clock hook in SpiffWorkflow 3.2: its timer module calls `datetime.now`, so that
  module's `datetime` is replaced by a subclass whose `now()` reads the `now` given to
  `Instance.fire_timers`, or else `app.clock.utcnow()`.
- A timer's value is checked when it is armed, before SpiffWorkflow reads it (it would raise
  a bare ValueError quoting the value): an ISO 8601 date, duration or cycle, a cycle that
  repeats no more often than `timer_min_repeat()` seconds, and the same for a value read
  from data on a loop nobody paces (`Parsed.rearming`). Deployment checks the constants.
- Failures: a step that raises EngineError has left the workflow half-run. The caller keeps the
  state it had (it does not persist) and must discard the Instance, which refuses any further use.
  Whatever SpiffWorkflow raises while it runs (a TypeError on missing data…) becomes an
  EngineError naming the element, never the values it read.
- Bounded work. Each step runs within `limits()` (the application's ENGINE_* settings): every
  engine task is counted and the clock read before it runs (do_engine_steps' will_complete_task
  hook), so a loop that never ends stops with an EngineError and frees the thread. A
  multi-instance may not have more instances than `max_cardinality`: its cardinality is checked
  when evaluated, its input collection when SpiffWorkflow prepares it (MultiInstanceTask's
  update hook is wrapped below, as the timer module's clock is).
"""

import hashlib
import json
import keyword
import threading
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime
from time import monotonic
from uuid import UUID

import SpiffWorkflow.bpmn.specs.event_definitions.timer as spiff_timer
from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import BasePythonScriptEngineEnvironment, PythonScriptEngine
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.specs.event_definitions import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from app import clock
from app.engine import parser as bpmn_parser
from app.engine.compaction import compact
from app.engine.expressions import ExpressionError, evaluate, references
from app.engine.iso8601 import french_duration
from app.engine.parser import too_frequent

CACHE_SIZE = 64
MAX_TIMER_ROUNDS = 100  # a cycle timer advances one period per refresh: catching up is bounded


class EngineError(Exception):
    """A step failed: French `message`, and the BPMN id of the element at fault if known."""

    def __init__(self, message, element_id=None):
        super().__init__(message)
        self.message, self.element_id = message, element_id


class TaskNotReady(EngineError):
    """The id given is not a user task waiting to be completed."""


class ConnectorError(Exception):
    """What a connector raises to stop the step with a French message of its own ("serveur
    injoignable"). The message must quote no value of the data: it is shown to the admins
    who retry the step, who may not see the dossier. Any other exception of a connector
    is named by its type only."""


@dataclass(frozen=True)
class Limits:
    """How much work one step may do before it is stopped (the instance goes to error)."""

    max_steps: int = 1000  # engine tasks run without waiting for anyone
    max_seconds: float = 10
    max_cardinality: int = 100  # instances of one multi-instance activity, passes of a loop


def limits():
    """The Limits of the step about to run: app/pathways/steps.py puts the application's
    settings here."""
    return Limits()


@dataclass(frozen=True)
class ServiceContext:
    """What a connector knows of the call: `data` is a copy of the task data (form key ->)."""

    pathway: str
    version: int
    element_id: str
    element_name: str | None
    data: dict


CONNECTORS: dict[str, Callable[[dict, ServiceContext], object]] = {}


def register_connector(name, fn):
    """`fn(params, context)` returns a JSON-serializable result, stored in the task data under
    the service task's result variable. Every call is also listed in the step's result."""
    CONNECTORS[name] = fn


def _queued(params, context):
    return None  # the caller sends notifications from the step's `service_calls`


register_connector("notify", _queued)
register_connector("send_email", _queued)


def extra_connectors():
    """More operators, from outside the engine: app/plugins.py puts the enabled plugins' here
    (those of the application handling the step)."""
    return {}


def connector_named(name):
    return CONNECTORS.get(name) or extra_connectors().get(name)


def connector_names():
    return set(CONNECTORS) | set(extra_connectors())


def timer_min_repeat():
    """The shortest period, in seconds, at which a timer may fire again by itself; 0: no
    limit. app/pathways puts the application's TIMER_MIN_REPEAT here."""
    return 0


def _timer_problem(definition, value, rearming):
    """Why the value a timer was armed with cannot be used, or None. Never quotes the value:
    it may come from a form."""
    minimum = timer_min_repeat()
    if not isinstance(value, str):
        return "Minuterie : la valeur calculée n'est pas un texte ISO 8601."
    parse = spiff_timer.TimerEventDefinition
    try:
        if isinstance(definition, spiff_timer.CycleTimerEventDefinition):
            cycles, _, period = parse.parse_iso_recurring_interval(value)
            seconds = period.total_seconds()
            if minimum and cycles != 1 and seconds < minimum:
                return too_frequent(seconds, minimum)
        elif isinstance(definition, spiff_timer.DurationTimerEventDefinition):
            span = parse.get_timedelta_from_start(parse.parse_iso_duration(value))
            seconds = span.total_seconds()
            if minimum and rearming and seconds < minimum:
                return (
                    f"Minuterie en boucle : la durée calculée ({french_duration(seconds)}) est "
                    f"plus courte que le minimum ({french_duration(minimum)})."
                )
        else:
            parse.parse_time_or_duration(value)
    except Exception:  # SpiffWorkflow raises bare exceptions that quote the value
        return "Minuterie : la valeur calculée n'est pas une date, une durée ou un cycle ISO 8601."
    return None


def _timer_of(spec, expression):
    """The timer definition of `spec` whose expression is `expression`, or None."""
    definition = getattr(spec, "event_definition", None)
    kinds = definition.event_definitions if isinstance(
        definition, MultipleEventDefinition) else [definition]  # fmt: skip
    for kind in kinds:
        if isinstance(kind, spiff_timer.TimerEventDefinition) and kind.expression == expression:
            return kind
    return None


def _escape_key(key):  # "typename" -> "%typename", "%x" -> "%%x": a bijection
    return f"%{key}" if key == "typename" or key.startswith("%") else key


def _unescape_key(key):
    return key[1:] if key.startswith("%") else key


def _default(value):
    if isinstance(value, set | frozenset):
        return list(value)
    if isinstance(value, date):  # datetime included
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _copy(value, key):
    """A JSON copy of `value`, its dictionary keys mapped by `key`."""
    if value is None or isinstance(value, str | bool | int):
        return value
    try:
        text = json.dumps(value, default=_default, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise EngineError(f"Données impossibles à enregistrer ({type(err).__name__}).") from None
    return json.loads(text, object_pairs_hook=lambda pairs: {key(k): v for k, v in pairs})


def _escape(value):  # as the engine keeps it
    return _copy(value, _escape_key)


def _unescape(value):  # as expressions, connectors and callers see it
    return _copy(value, _unescape_key)


class _StepError(WorkflowTaskException):
    """An expression, script or connector failed; its text is the designer's message."""


class _Environment(BasePythonScriptEngineEnvironment):
    """Where SpiffWorkflow 3.2 sends every evaluation (some call sites bypass the engine)."""

    def __init__(self, trusted):
        super().__init__({})
        self.trusted = trusted

    def evaluate(self, expression, context, external_context=None):
        names, wanted = {}, references(expression)[0]  # task data wins over data objects
        for source in (external_context or {}, context if isinstance(context, dict) else {}):
            for name in wanted:
                if _escape_key(name) in source:
                    names[name] = _unescape(source[_escape_key(name)])
        return _escape(evaluate(expression, names))

    def execute(self, script, context, external_context=None):
        if not self.trusted:
            raise ExpressionError("Les scripts ne sont pas autorisés dans ce parcours.")
        for number, line in enumerate(script.splitlines(), 1):
            if not line.strip() or line.strip().startswith("#"):
                continue
            name, _, expression = (part.strip() for part in line.partition("="))
            if not expression or expression.startswith("=") or not name.isidentifier() or (
                keyword.iskeyword(name) or name.startswith("_")
            ):  # fmt: skip
                raise ExpressionError(f"Script, ligne {number} : « nom = expression » attendu.")
            context[_escape_key(name)] = self.evaluate(expression, context, external_context)
        return True  # None would leave the task STARTED, False in ERROR


class _Budget:
    """What the current step may still do (see Limits); `task` is the last engine task run."""

    def __init__(self, limits):
        self.limits, self.steps, self.task = limits, 0, None
        self.deadline = monotonic() + limits.max_seconds

    def step(self, task):
        """Before each engine task runs."""
        self.steps, self.task = self.steps + 1, task
        if self.steps > self.limits.max_steps:
            raise _StepError(
                f"plus de {self.limits.max_steps} étapes enchaînées sans attendre personne "
                "(une boucle sans fin ?) : le parcours est arrêté là.",
                task=task,
            )
        if monotonic() > self.deadline:
            raise _StepError(
                f"plus de {self.limits.max_seconds:g} s de calcul sans attendre personne "
                "(une boucle trop longue ?) : le parcours est arrêté là.",
                task=task,
            )

    def instances(self, task, count, source):
        """`count` instances of a multi-instance activity, asked by `source`."""
        if count > self.limits.max_cardinality:
            raise _StepError(
                f"trop d'instances multiples ({source}) : au plus {self.limits.max_cardinality}.",
                task=task,
            )


def _budget_of(task):
    engine = task.workflow.script_engine
    return engine.budget if isinstance(engine, _Engine) else _Budget(limits())


def _checked_instances(self, my_task):
    """MultiInstanceTask's update hook, which prepares the instances: its input collection is
    checked first (SpiffWorkflow raised TypeError on a missing one, and created as many
    instances as it held)."""
    ready = super(MultiInstanceTask, self)._update_hook(my_task)
    if self.data_input is not None:
        name = self.data_input.bpmn_id
        if not self.data_input.exists(my_task):
            message = f"la donnée d'entrée « {name} » des instances multiples est absente."
            raise _StepError(message, task=my_task)
        items = self.data_input.get(my_task)
        if not isinstance(items, list | dict):
            message = f"la donnée d'entrée « {name} » des instances multiples n'est pas une liste."
            raise _StepError(message, task=my_task)
        _budget_of(my_task).instances(my_task, len(items), f"donnée « {name} »")
    return ready


MultiInstanceTask._update_hook = _checked_instances


class _Engine(PythonScriptEngine):
    """One per Instance: it records the connector calls of the current step, within its
    budget."""

    def __init__(self, runtime):
        super().__init__(environment=_Environment(runtime.trusted))
        self.runtime, self.calls = runtime, []
        self.budget = _Budget(limits())

    def evaluate(self, task, expression, external_context=None):
        try:
            value = self.environment.evaluate(expression, task.data, external_context)
        except ExpressionError as err:
            raise _StepError(_in_expression(err.message, expression), task=task) from None
        spec = task.task_spec
        if isinstance(spec, MultiInstanceTask) and expression == spec.cardinality:
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                message = "le nombre d'instances (loopCardinality) n'est pas un entier positif."
                raise _StepError(message, task=task)
            self.budget.instances(task, value, "loopCardinality")
        timer = _timer_of(spec, expression)
        if timer is not None:
            rearming = spec.bpmn_id in self.runtime.rearming
            problem = _timer_problem(timer, _unescape(value), rearming)
            if problem:
                raise _StepError(problem, task=task)
        return value

    def execute(self, task, script, external_context=None):
        try:
            return self.environment.execute(script, task.data, external_context)
        except ExpressionError as err:
            raise _StepError(err.message, task=task) from None

    def call_service(self, task, operation_name=None, operation_params=None, **kwargs):
        spec = task.task_spec
        connector = connector_named(operation_name)
        if connector is None:
            raise _StepError(f"Connecteur inconnu : « {operation_name} ».", task=task)
        params = {k: _unescape(v["value"]) for k, v in (operation_params or {}).items()}
        context = ServiceContext(
            self.runtime.pathway, self.runtime.version, spec.bpmn_id, spec.bpmn_name,
            _unescape(task.data),
        )  # fmt: skip
        try:
            result = _escape(connector(params, context))
        except ConnectorError as err:  # a connector's failure stops the step, in French
            reason = f" : {err}" if str(err) else "."
            message = f"Le service « {operation_name} » a échoué{reason}"
            raise _StepError(message, task=task) from None
        except Exception as err:  # its text may quote the parameters: the type only
            raise _StepError(
                f"Le service « {operation_name} » a échoué ({type(err).__name__}).", task=task
            ) from None
        self.calls.append(
            {"element": spec.bpmn_id, "name": spec.bpmn_name, "operator": operation_name,
             "params": params, "result": _unescape(result)}
        )  # fmt: skip
        return json.dumps(result)  # ServiceTask stores json.loads(result)


_NOW: ContextVar[datetime | None] = ContextVar("parcours_engine_now", default=None)


class _ClockDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        now = _NOW.get() or clock.utcnow()
        return now.astimezone(tz) if tz is not None else now


spiff_timer.datetime = _ClockDatetime


def _utc(moment):
    moment = moment.astimezone(UTC)
    return datetime.combine(moment.date(), moment.time(), tzinfo=UTC)  # a plain datetime


class _InstanceOnlyConverter(BpmnWorkflowConverter):
    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["spec_name"] = workflow.spec.name
        dct["spec_digest"] = getattr(workflow.spec, "parcours_digest", None)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct, spec=None, subprocess_specs=None, script_engine=None):
        workflow = self.target_class(
            spec, subprocess_specs, script_engine=script_engine, deserializing=True
        )
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_REGISTRY = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)
_InstanceOnlyConverter(BpmnWorkflow, _REGISTRY)  # replaces the converter of BpmnWorkflow
_SERIALIZER = BpmnWorkflowSerializer(_REGISTRY)
_SERIALIZE_LOCK = threading.Lock()  # serialize_json flips a flag on the shared registry


_CACHE: OrderedDict = OrderedDict()
_CACHE_LOCK = threading.Lock()


class Runtime:
    """The parsed spec of one deployed pathway version; shared by all its instances."""

    def __init__(self, pathway, version, bpmn, trusted=False):
        self.pathway, self.version, self.trusted = pathway, version, bool(trusted)
        data = bpmn.encode("utf-8")
        self.digest = hashlib.sha256(data).hexdigest()
        # Deployment checked forms, roles and operators against the platform; here the
        # document only needs to parse again, so it vouches for its own names.
        root = bpmn_parser._read_xml(data, [])
        if root is None:
            raise EngineError("Le BPMN de cette version est illisible.")
        found = {
            path: set(root.xpath(path, namespaces=bpmn_parser.NS))
            for path in ("//spiffworkflow:property[@name='formKey']/@value",
                         "//bpmn:lane/@name", "//spiffworkflow:serviceTaskOperator/@id")
        }  # fmt: skip
        forms, roles, operators = found.values()
        parsed = bpmn_parser.parse_bpmn(
            data, forms=forms, roles=roles, operators=operators, allow_scripts=self.trusted,
            platform_allowed=True,
        )  # fmt: skip
        if parsed.problems:
            problem = parsed.problems[0]
            raise EngineError(f"Parcours non exécutable : {problem}", problem.element_id)
        self.spec, self.subprocess_specs = parsed.spec, parsed.subprocess_specs
        self.rearming = parsed.rearming
        self.spec.parcours_digest = self.digest
        self.user_tasks = {task["id"]: task for task in parsed.user_tasks}

    @classmethod
    def for_version(cls, version):
        """The Runtime of a PathwayVersion-like object (pathway, version, bpmn, trusted)."""
        key = (version.pathway, version.version)
        digest = hashlib.sha256(version.bpmn.encode("utf-8")).hexdigest()
        with _CACHE_LOCK:
            runtime = _CACHE.get(key)
            if runtime and (runtime.digest, runtime.trusted) == (digest, bool(version.trusted)):
                _CACHE.move_to_end(key)
                return runtime
        runtime = cls(version.pathway, version.version, version.bpmn, version.trusted)
        with _CACHE_LOCK:
            _CACHE[key] = runtime
            while len(_CACHE) > CACHE_SIZE:
                _CACHE.popitem(last=False)
        return runtime

    def start(self, initial_data=None, message=None):
        """A new instance, run until its first waiting point; `start_result` holds that step.

        With `message` (name, payload) the instance is started by that message: only the
        start events that catch it start the process (a plain start event beside them would
        fire at once and cancel them); `start_result["caught"]` says whether one did."""
        engine = _Engine(self)
        workflow = BpmnWorkflow(self.spec, self.subprocess_specs, script_engine=engine)
        first = workflow.get_next_task(spec_name="Start")
        first.data.update(_escape(initial_data or {}))
        instance = Instance(self, workflow, engine)
        if message is None:
            instance.start_result = instance._step(instance._run_engine)
            return instance
        name, payload = message
        instance._step(lambda: self._only_start_on(instance, first, name))
        instance.start_result = instance.send_message(name, payload)
        return instance

    @staticmethod
    def _only_start_on(instance, first, name):
        """Run the process's start up to its start events; cancel those not waiting for the
        message `name`."""
        wanted = MessageEventDefinition(name)
        workflow = instance._wf
        first.run()
        for split in workflow.get_tasks(spec_name="StartEventSplit", state=TaskState.READY):
            split.run()
        for task in workflow.get_tasks(state=TaskState.NOT_FINISHED_MASK):
            spec = task.task_spec
            if isinstance(spec, StartEvent) and spec.event_definition != wanted:
                task.cancel()
        instance._run_engine()

    def restore(self, state):
        """The instance that `Instance.dump()` wrote, with this runtime's spec."""
        try:
            dct = json.loads(state)
            _SERIALIZER.migrate(dct)
        except (TypeError, ValueError, KeyError):
            raise EngineError("État de l'instance illisible.") from None
        if (dct.get("spec_name"), dct.get("spec_digest")) != (self.spec.name, self.digest):
            raise EngineError("Cet état a été produit par une autre version du parcours.")
        engine = _Engine(self)
        try:
            workflow = _SERIALIZER.from_dict(
                dct, spec=self.spec, subprocess_specs=self.subprocess_specs, script_engine=engine
            )
        except Exception:  # a corrupt document must not crash the caller
            raise EngineError("État de l'instance illisible.") from None
        return Instance(self, workflow, engine)


MAX_QUOTED = 200  # characters of an expression quoted in an error


def _in_expression(message, expression):
    """`message` followed by the expression it is about (the designer's text, never the
    values it read), on one line and shortened."""
    text = " ".join(str(expression).split())
    if len(text) > MAX_QUOTED:
        text = text[: MAX_QUOTED - 1] + "…"
    return f"{message} dans l'expression « {text} »."


def _french(err):
    """EngineError for an exception raised while the engine ran. Its message names the
    element, the expression and the kind of problem, never a value of the instance's data:
    it is stored in the instance's error and shown to admins who may not see the dossier.
    So SpiffWorkflow's own messages (which may quote data) are reduced to their type."""
    if isinstance(err, EngineError):
        return err
    if isinstance(err, ExpressionError):  # correlations are evaluated outside the engine
        return EngineError(f"Expression : {err.message}")
    task = getattr(err, "task", None)
    spec = task.task_spec if task is not None else getattr(err, "task_spec", None)
    element = getattr(spec, "bpmn_id", None)
    label = getattr(spec, "bpmn_name", None) or element or "?"
    what = "Passerelle" if type(spec).__name__.endswith("Gateway") else "Étape"
    if isinstance(err, _StepError):
        return EngineError(f"{what} « {label} » : {err.args[0]}", element)
    if str(err).startswith("No conditions satisfied"):
        message = "aucune condition de sortie n'est remplie et il n'y a pas de flux par défaut."
        return EngineError(f"Passerelle « {label} » : {message}", element)
    kind = getattr(err, "error_type", None)
    kind = kind if kind and kind != "unknown" else type(err).__name__
    return EngineError(f"{what} « {label} » : erreur du moteur ({kind}).", element)


def _unexpected(err, last_task):
    """EngineError for an exception SpiffWorkflow did not expect (a TypeError on missing
    data…): the element it was handling (SpiffWorkflow's methods call it `my_task`), else the
    last one run; the type of the error, not its text (it may quote the data)."""
    task, trace = last_task, err.__traceback__
    while trace is not None:
        found = trace.tb_frame.f_locals.get("my_task")
        task = found if hasattr(found, "task_spec") else task
        trace = trace.tb_next
    spec = task.task_spec if task is not None else None
    element = getattr(spec, "bpmn_id", None)
    label = getattr(spec, "bpmn_name", None) or element or "?"
    reason = f"erreur du moteur ({type(err).__name__}) ; le parcours est arrêté là"
    return EngineError(f"Étape « {label} » : {reason}.", element)


class Instance:
    """One running workflow. Not thread-safe: one request or job at a time."""

    def __init__(self, runtime, workflow, engine):
        self.runtime, self._wf, self._engine = runtime, workflow, engine
        self._broken = False
        self.start_result = None

    def _step(self, run):
        """Run one step; `run` may return extra keys for the result."""
        if self._broken:
            raise EngineError("Instance inutilisable après une erreur : rechargez son état.")
        self._engine.calls, self._engine.budget = [], _Budget(limits())
        try:
            extra = run() or {}
        except Exception as err:
            self._broken = True
            if isinstance(err, WorkflowException | ExpressionError | EngineError):
                raise _french(err) from None
            raise _unexpected(err, self._engine.budget.task) from None
        messages = [
            {"name": event.event_definition.name, "payload": _unescape(event.payload)}
            for event in self._wf.get_events()
        ]  # thrown by the workflow, caught by nothing inside it
        completed = self._wf.is_completed()
        return {"service_calls": self._engine.calls, "messages": messages, "completed": completed,
                **extra}  # fmt: skip

    def _run_engine(self):
        """Run what the engine runs by itself, each task within the step's budget."""
        self._wf.do_engine_steps(will_complete_task=self._engine.budget.step)

    def _describe(self, task):
        spec = task.task_spec
        known = self.runtime.user_tasks.get(spec.bpmn_id, {})
        properties = spec.extensions.get("properties", {}) if spec.extensions else {}
        return {
            "id": str(task.id),
            "spec": spec.bpmn_id,
            "name": spec.bpmn_name,
            "lane": known.get("lane", spec.lane),
            "form_key": known.get("form_key", properties.get("formKey")),
            "due_in": known.get("due_in", properties.get("dueIn")),
        }

    def _ready(self):
        return self._wf.get_tasks(state=TaskState.READY, manual=True)

    def ready_user_tasks(self):
        return [self._describe(task) for task in self._ready()]

    def complete(self, task_id, form_key, data):
        """Store `data` as the form `form_key` of the ready user task `task_id`, run on."""
        task = next((t for t in self._ready() if str(t.id) == str(task_id)), None)
        if task is None:
            raise TaskNotReady("Cette tâche n'est pas (ou plus) à réaliser.")
        expected = self._describe(task)["form_key"]
        if expected and form_key != expected:
            raise EngineError(
                f"Cette tâche attend le formulaire « {expected} ».", task.task_spec.bpmn_id
            )
        payload = _escape(data)

        def run():
            task.data[_escape_key(form_key)] = payload
            task.run()
            self._run_engine()

        return self._step(run)

    def is_completed(self):
        return self._wf.is_completed()

    def _timers(self):
        """(due, task, definition) for every waiting timer, subprocesses included."""
        found = []
        for task in self._wf.event_manager.tasks.values():
            value = task.internal_data.get("event_value")
            definition = task.task_spec.event_definition
            if value is None or task.internal_data.get("event_fired"):
                continue
            kinds = definition.event_definitions if isinstance(
                definition, MultipleEventDefinition) else [definition]  # fmt: skip
            for kind in kinds:
                due = None
                if isinstance(kind, spiff_timer.CycleTimerEventDefinition):
                    due = datetime.fromisoformat(value["next"]) if value["cycles"] != 0 else None
                elif isinstance(kind, spiff_timer.TimeDateEventDefinition):
                    due = spiff_timer.TimerEventDefinition.parse_time_or_duration(value)
                elif isinstance(kind, spiff_timer.DurationTimerEventDefinition):
                    due = spiff_timer.TimerEventDefinition.get_datetime(value)
                if isinstance(due, datetime):
                    found.append((_utc(due), task, kind))
        return found

    def next_timer_at(self):
        """The earliest due time (aware, UTC) of the instance's waiting timers, or None."""
        return min((due for due, _, _ in self._timers()), default=None)

    def fire_timers(self, now):
        """Fire every timer due before `now` (aware), and run on; `fired` lists their ids.
        A cycle armed more frequent than `timer_min_repeat()` (before that limit was set)
        stops the step instead of firing."""
        if now.tzinfo is None:
            raise ValueError("fire_timers() needs an aware datetime")
        now = _utc(now)

        def run():
            fired = []
            for _ in range(MAX_TIMER_ROUNDS):
                due = [(task, kind) for at, task, kind in self._timers() if at < now]
                if not due:
                    break
                for task, kind in due:
                    self._refuse_too_frequent(task, kind)
                fired.extend(task.task_spec.bpmn_id for task, _ in due)
                self._wf.refresh_timers()
                self._run_engine()
            return {"fired": fired}

        token = _NOW.set(now)
        try:
            return self._step(run)
        finally:
            _NOW.reset(token)

    def _refuse_too_frequent(self, task, kind):
        minimum = timer_min_repeat()
        if not minimum or not isinstance(kind, spiff_timer.CycleTimerEventDefinition):
            return
        value = task.internal_data["event_value"]
        if value["cycles"] != 1 and value["duration"] < minimum:
            spec = task.task_spec
            label = spec.bpmn_name or spec.bpmn_id
            message = too_frequent(value["duration"], minimum)
            raise EngineError(f"Étape « {label} » : {message}", spec.bpmn_id)

    def send_message(self, name, payload=None):
        """Deliver the BPMN message `name`; `caught` is False when nothing waited for it."""
        payload = _escape(payload if payload is not None else {})
        definition = MessageEventDefinition(name)

        def run():
            correlations = {}  # only for messages that declare correlation properties
            for task in list(self._wf.event_manager.tasks.values()):
                waiting = task.task_spec.event_definition
                kinds = waiting.event_definitions if isinstance(
                    waiting, MultipleEventDefinition) else [waiting]  # fmt: skip
                for kind in kinds:  # an event-based gateway waits on several at once
                    if (
                        isinstance(kind, MessageEventDefinition)
                        and kind == definition
                        and (kind.correlation_properties)
                    ):
                        correlations = kind.calculate_correlations(
                            self._engine, kind.correlation_properties, payload
                        )
            event = BpmnEvent(definition, payload, correlations)
            caught = self._wf.event_manager.catch(event, internal=False) > 0  # send_event
            if caught:  # without its exception when nothing waits
                self._run_engine()
            return {"caught": caught}

        return self._step(run)

    def data(self):
        """The instance's data as expressions see it: form data by form key, service results,
        message variables (later values win). The tasks under way carry what the finished
        ones (dropped from the saved state) left them."""
        merged = {}
        reached = TaskState.COMPLETED | TaskState.READY | TaskState.WAITING | TaskState.STARTED
        done = self._wf.get_tasks(state=reached)
        for task in sorted(done, key=lambda t: t.last_state_change):
            merged.update(task.data)
        merged.update(self._wf.data)
        return _unescape(merged)

    def passed(self):
        """Every completed BPMN element: {"id" (engine task), "spec", "name", "type"}. Callers
        diff it around a step to record what the step went through."""
        done = self._wf.get_tasks(state=TaskState.COMPLETED)
        return [
            {"id": str(t.id), "spec": t.task_spec.bpmn_id, "name": t.task_spec.bpmn_name,
             "type": type(t.task_spec).__name__}
            for t in sorted(done, key=lambda t: t.last_state_change) if t.task_spec.bpmn_id
        ]  # fmt: skip

    def dump(self):
        """The instance's state as JSON, without the spec: give it back to Runtime.restore."""
        if self._broken:
            raise EngineError("Instance inutilisable après une erreur : rechargez son état.")
        compact(self._wf)  # the finished past is not kept in the state (see compaction.py)
        with _SERIALIZE_LOCK:
            return _SERIALIZER.serialize_json(self._wf)
