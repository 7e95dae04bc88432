"""Pure operations behind the field-by-field form designer.

Each operation takes a form's (schema, ui_schema), returns new ones (the inputs are never
changed) and raises InvalidInput with French messages at pointers into its own arguments
("/label", "/options/2", "/path"). What it writes follows the conventions of the shipped forms
(README, "Forms"), so a designed form reads like a hand-written one and can still be edited as
JSON. Every result goes through check_form_schema(): the designer never hands back a form that
publication would refuse.

`path` names the container of the field: [] for the root, ["sante"] for the section "sante",
["actions"] for the rows of the repeatable group "actions".
"""

import copy

from app.formkit.coerce import choices_of, properties_of, required_of, shape_of
from app.formkit.fields import (
    CHOICES,
    FIELD_TYPES,
    KINDS,
    NAME,
    apply_settings,
    consts_of,
    unique_name,
    unknown_settings,
)
from app.formkit.schema import MAX_FIELD_DEPTH, check_form_schema, field_depth
from app.validation import InvalidInput

# --- Operations --------------------------------------------------------------------------------


def add_field(schema, ui, path, spec):
    """Add a field at the end of the container `path`; return (schema, ui, its name)."""
    schema, ui = _copies(schema, ui)
    container, box_ui = _container(schema, ui, path)
    spec = _spec(spec)
    kind = spec.get("type")
    if kind not in FIELD_TYPES:
        raise InvalidInput({"/type": "Type de champ inconnu."})
    problems = unknown_settings(spec, kind)
    properties = container["properties"]
    if "name" in spec:
        name = spec["name"]
        if not isinstance(name, str) or not NAME.fullmatch(name):
            problems["/name"] = (
                "Le nom doit commencer par une lettre et ne contenir que des minuscules sans "
                "accent, des chiffres et « _ » (40 caractères au plus)."
            )
        elif name in properties:
            problems["/name"] = f"Le nom « {name} » est déjà utilisé à cet endroit."
    else:
        name = unique_name(spec.get("label"), properties)
    base, widget, _ = KINDS[kind]
    field = {"type": base["type"], "title": "", **copy.deepcopy(base)}  # title second, as in forms/
    field_ui = {"ui:widget": widget} if widget else {}
    if kind == "section":
        field_ui = {"ui:order": []}
    elif kind == "group":
        field_ui = {"items": {"ui:order": []}}
    apply_settings(kind, field, field_ui, {"label": None, **spec}, problems)
    if problems:
        raise InvalidInput(problems)
    properties[name] = field
    box_ui["ui:order"] = _ordered(container, box_ui)  # the new name comes last
    if field_ui:
        box_ui[name] = field_ui
    if spec.get("required"):
        container["required"] = [*_required_list(container), name]
    if field_depth(schema) > MAX_FIELD_DEPTH:
        raise InvalidInput(
            {"/path": f"Un formulaire ne peut pas imbriquer plus de {MAX_FIELD_DEPTH} niveaux."}
        )
    return (*_checked(schema, ui), name)


def update_field(schema, ui, path, name, spec):
    """Change the settings of a field; its type and name stay (delete and re-add to change)."""
    schema, ui = _copies(schema, ui)
    container, box_ui = _container(schema, ui, path)
    field, field_ui = _field(container, box_ui, name)
    kind = field_type(field, field_ui)
    spec = _spec(spec)
    if spec.get("type", kind) != kind:
        raise InvalidInput(
            {"/type": "Le type d'un champ ne change pas : supprimez-le puis ajoutez-en un autre."}
        )
    if spec.get("name", name) != name:
        raise InvalidInput(
            {"/name": "Le nom d'un champ ne change pas : les réponses déjà saisies s'y rattachent."}
        )
    problems = unknown_settings(spec, kind)
    conditions = _conditions(container)
    if spec.get("required") and name in conditions:
        problems["/required"] = (
            "Ce champ est obligatoire sous condition : retirez d'abord la condition."
        )
    apply_settings(kind, field, field_ui, spec, problems)
    # A condition on an option that disappeared would never hold again: say so.
    consts = consts_of(field, kind)
    for target, test in conditions.items():
        if test["field"] == name and consts is not None and test["equals"] not in consts:
            problems.setdefault(
                "/options",
                f"La condition du champ « {target} » porte sur une option retirée : "
                "retirez d'abord la condition.",
            )
    if problems:
        raise InvalidInput(problems)
    if "required" in spec:
        others = [n for n in _required_list(container) if n != name]
        container["required"] = [*others, name] if spec["required"] else others
    if field_ui:
        box_ui[name] = field_ui
    else:
        box_ui.pop(name, None)
    box_ui["ui:order"] = _ordered(container, box_ui)
    return _checked(schema, ui)


def remove_field(schema, ui, path, name):
    """Remove a field with everything that names it: required, UI, conditions."""
    schema, ui = _copies(schema, ui)
    container, box_ui = _container(schema, ui, path)
    _field(container, box_ui, name)
    del container["properties"][name]
    if isinstance(container.get("required"), list):
        container["required"] = [n for n in container["required"] if n != name]
    box_ui.pop(name, None)
    box_ui["ui:order"] = _ordered(container, box_ui)
    _forget(container, name)
    return _checked(schema, ui)


def move_field(schema, ui, path, name, direction):
    """Move a field one place up or down in ui:order (nothing happens at either end)."""
    schema, ui = _copies(schema, ui)
    container, box_ui = _container(schema, ui, path)
    _field(container, box_ui, name)
    if direction not in ("up", "down"):
        raise InvalidInput({"/direction": "Le sens doit être « up » ou « down »."})
    order = _ordered(container, box_ui)
    here = order.index(name)
    there = here - 1 if direction == "up" else here + 1
    if 0 <= there < len(order):
        order[here], order[there] = order[there], order[here]
    box_ui["ui:order"] = order
    return _checked(schema, ui)


def set_condition(schema, ui, path, target, when_field, equals):
    """Show and require `target` only when `when_field` equals `equals` (same container)."""
    schema, ui = _copies(schema, ui)
    container, box_ui = _container(schema, ui, path)
    properties = container["properties"]
    if target not in properties:
        raise InvalidInput({"/target": f"Ce champ n'existe pas : {target!s:.50}."})
    if when_field not in properties:
        raise InvalidInput({"/when_field": f"Ce champ n'existe pas : {when_field!s:.50}."})
    if when_field == target:
        raise InvalidInput({"/when_field": "Un champ ne peut pas dépendre de lui-même."})
    when = properties[when_field]
    kind = field_type(when, _ui_of(box_ui, when_field))
    if kind not in (*CHOICES, "boolean"):
        raise InvalidInput(
            {"/when_field": "Une condition porte sur un choix ou sur un champ Oui / non."}
        )
    consts = consts_of(when, kind)
    if kind == "boolean" and not isinstance(equals, bool):
        raise InvalidInput({"/equals": "Choisissez Oui (true) ou Non (false)."})
    if kind != "boolean" and (isinstance(equals, bool) or equals not in consts):
        raise InvalidInput({"/equals": "Choisissez une des options de ce champ."})
    # A -> B -> A would hide both fields for good in the browser.
    conditions, seen, step = _conditions(container), set(), when_field
    while step in conditions and step not in seen:
        seen.add(step)
        step = conditions[step]["field"]
        if step == target:
            raise InvalidInput({"/when_field": "Ces champs dépendraient l'un de l'autre."})
    _drop_condition(container, target)
    if isinstance(container.get("required"), list):
        container["required"] = [n for n in container["required"] if n != target]
    test = {"contains": {"const": equals}} if kind == "checkboxes" else {"const": equals}
    clause = {
        "if": {"properties": {when_field: test}, "required": [when_field]},
        "then": {"required": [target]},
    }
    container["allOf"] = [*(container.get("allOf") or []), clause]
    box_ui["ui:order"] = _ordered(container, box_ui)
    return _checked(schema, ui)


def remove_condition(schema, ui, path, target):
    """Make `target` always shown and optional again."""
    schema, ui = _copies(schema, ui)
    container, box_ui = _container(schema, ui, path)
    if target not in container["properties"]:
        raise InvalidInput({"/target": f"Ce champ n'existe pas : {target!s:.50}."})
    if target not in _conditions(container):
        raise InvalidInput({"/target": "Ce champ n'a pas de condition."})
    _drop_condition(container, target)
    box_ui["ui:order"] = _ordered(container, box_ui)
    return _checked(schema, ui)


def describe(schema, ui):
    """The fields in display order, sections and groups followed by their own fields."""
    rows = []
    _describe(schema, ui if isinstance(ui, dict) else {}, [], 0, rows)
    return rows


def _describe(container, box_ui, path, depth, rows):
    conditions, required = _conditions(container), required_of(container)
    properties = properties_of(container)
    for name in _ordered(container, box_ui):
        field, field_ui = properties[name], _ui_of(box_ui, name)
        kind = field_type(field, field_ui)
        rows.append(
            {
                "path": list(path),
                "name": name,
                "type": kind,
                "label": str(field.get("title") or name),
                "required": name in required,
                "conditional": conditions.get(name),
                "depth": depth,
                "settings": _settings(field, field_ui),
            }
        )
        if kind == "section":
            _describe(field, field_ui, [*path, name], depth + 1, rows)
        elif kind == "group" and shape_of(field.get("items")) == "section":
            items_ui = _ui_of(field_ui, "items")
            _describe(field["items"], items_ui, [*path, name], depth + 1, rows)


def _settings(field, field_ui):
    """What the designer's edit form shows of a field (the options by their labels)."""
    shown = {
        "help": field.get("description", ""),
        "placeholder": field_ui.get("ui:placeholder", "") if isinstance(field_ui, dict) else "",
        "minimum": field.get("minimum", ""),
        "maximum": field.get("maximum", ""),
        "default": field.get("default", ""),
    }
    choices = choices_of(field["items"] if field.get("type") == "array" else field)
    if choices:
        shown["options"] = [title for _value, title in choices]
    return shown


def field_type(field, field_ui):
    """The designer type of a field schema, as render.py would draw it."""
    shape, widget = shape_of(field), field_ui.get("ui:widget")
    if shape == "rows":
        return "group"
    if shape == "multiple":
        return "checkboxes"
    if shape in ("file", "section", "boolean", "integer", "number"):
        return shape
    options = choices_of(field)
    if options:  # render.py: radio buttons up to 5 options unless a select is asked for
        return (
            "radio" if widget == "radio" or (widget != "select" and len(options) <= 5) else "choice"
        )
    if widget in ("textarea", "tel", "email", "date"):
        return widget
    return field.get("format") if field.get("format") in ("date", "email") else "text"


# --- Containers and conditions -----------------------------------------------------------------


def _copies(schema, ui):
    if not isinstance(schema, dict):
        raise InvalidInput({"/schema": "Le schéma doit être un objet JSON."})
    if ui is not None and not isinstance(ui, dict):
        raise InvalidInput({"/ui_schema": "Le schéma d'affichage doit être un objet JSON."})
    return copy.deepcopy(schema), copy.deepcopy(ui or {})


def _spec(spec):
    if not isinstance(spec, dict):
        raise InvalidInput({"/spec": "Les réglages du champ doivent être un objet JSON."})
    return spec


def _container(schema, ui, path):
    """The object schema whose properties `path` designates, and its UI entry (created)."""
    if not isinstance(path, list) or not all(isinstance(part, str) for part in path):
        raise InvalidInput({"/path": "Le chemin doit être une liste de noms de champs."})
    node, node_ui = schema, ui
    for index, name in enumerate(path):
        child = properties_of(node).get(name)
        shape = shape_of(child) if child is not None else None
        if shape == "rows" and shape_of(child.get("items")) == "section":
            node, node_ui = child["items"], _ui_entry(_ui_entry(node_ui, name), "items")
        elif shape == "section":
            node, node_ui = child, _ui_entry(node_ui, name)
        else:
            raise InvalidInput(
                {f"/path/{index}": f"« {name:.50} » n'est ni une section ni un groupe répétable."}
            )
    if not isinstance(node.get("properties"), dict):
        node["properties"] = {}
    return node, node_ui


def _ui_entry(ui, key):
    if not isinstance(ui.get(key), dict):
        ui[key] = {}
    return ui[key]


def _ui_of(ui, key):
    child = ui.get(key) if isinstance(ui, dict) else None
    return child if isinstance(child, dict) else {}


def _field(container, box_ui, name):
    if not isinstance(name, str) or name not in container["properties"]:
        raise InvalidInput({"/name": f"Ce champ n'existe pas : {name!s:.50}."})
    return container["properties"][name], dict(_ui_of(box_ui, name))


def _ordered(container, box_ui):
    """Every property: those of ui:order first, then the others (as render.ordered)."""
    properties = properties_of(container)
    order = box_ui.get("ui:order") if isinstance(box_ui.get("ui:order"), list) else []
    first = list(dict.fromkeys(n for n in order if isinstance(n, str) and n in properties))
    return first + [name for name in properties if name not in first]


def _required_list(container):
    required = container.get("required")
    return list(required) if isinstance(required, list) else []


def _clauses(container):
    """The container and its allOf entries: the places where an if/then may stand."""
    return [container, *(c for c in container.get("allOf") or [] if isinstance(c, dict))]


def _conditions(container):
    """{target: {"field", "equals"}} for the if/then clauses that test one field's value."""
    found = {}
    for clause in _clauses(container):
        test, then = clause.get("if"), clause.get("then")
        if not isinstance(test, dict) or not isinstance(then, dict):
            continue
        properties = test.get("properties")
        if not isinstance(properties, dict) or len(properties) != 1:
            continue
        field, rule = next(iter(properties.items()))
        rule = rule if isinstance(rule, dict) else {}
        contains = rule.get("contains")
        if "const" in rule:
            equals = rule["const"]
        elif isinstance(contains, dict) and "const" in contains:
            equals = contains["const"]
        else:
            continue
        for target in required_of(then):
            found.setdefault(target, {"field": field, "equals": equals})
    return found


def _drop_condition(container, target):
    """Take `target` out of every then.required; clauses left requiring nothing go."""
    for clause in _clauses(container):
        then = clause.get("then")
        if isinstance(then, dict) and isinstance(then.get("required"), list):
            then["required"] = [n for n in then["required"] if n != target]
    _prune(container)


def _forget(container, name):
    """Remove the conditions that test `name` and its mentions in the others."""
    for clause in _clauses(container):
        test = clause.get("if")
        if isinstance(test, dict) and _mentions(test, name):
            clause["then"] = clause["else"] = {}  # emptied, then pruned
        dependent = clause.get("dependentRequired")
        if isinstance(dependent, dict):
            dependent.pop(name, None)
            for trigger, names in list(dependent.items()):
                dependent[trigger] = (
                    [n for n in names if n != name] if isinstance(names, list) else names
                )
                if not dependent[trigger]:
                    del dependent[trigger]
            if not dependent:
                del clause["dependentRequired"]
    _drop_condition(container, name)
    for clause in _clauses(container):
        other = clause.get("else")
        if isinstance(other, dict) and isinstance(other.get("required"), list):
            other["required"] = [n for n in other["required"] if n != name]
    _prune(container)


def _mentions(test, name):
    """Whether an "if" reads the field `name` (anywhere in it: anyOf, not, …)."""
    if isinstance(test, dict):
        if name in (test.get("properties") or {}) or name in (test.get("required") or []):
            return True
        return any(_mentions(value, name) for value in test.values())
    if isinstance(test, list):
        return any(_mentions(value, name) for value in test)
    return False


def _prune(container):
    """Drop the if/then/else left with nothing to require, and an empty allOf."""

    def empty(part):
        return part is None or (isinstance(part, dict) and not any(part.values()))

    def idle(clause):
        return "if" in clause and empty(clause.get("then")) and empty(clause.get("else"))

    if idle(container):
        for key in ("if", "then", "else"):
            container.pop(key, None)
    if isinstance(container.get("allOf"), list):
        kept = [c for c in container["allOf"] if not (isinstance(c, dict) and idle(c))]
        kept = [c for c in kept if c != {}]
        if kept:
            container["allOf"] = kept
        else:
            del container["allOf"]


def _checked(schema, ui):
    """The safety net: never hand back what publication would refuse."""
    check_form_schema(schema, ui)
    return schema, ui
