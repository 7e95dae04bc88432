"""HTML for the forms of the form library: the fields to fill in, and a submitted form to read.

Field names (what the browser sends back, what coerce.py reads) are the data path joined by dots:

    gir                  a root field
    sante.douleur        a field of the section (nested object) "sante"
    actions.0.action     the field "action" of row 0 of the repeatable group "actions"
    tags.0               row 0 of a repeatable group whose items are not objects
    suites               a multiple choice: the name is repeated, once per checked box

Row numbers only order the rows: coerce() sorts them and renumbers from 0, so the gaps left by
rows removed in the browser do not matter. The hidden row template numbers its row "__new__";
formkit.js replaces that with a fresh number when it adds a row. Ids are `prefix` and the same
path joined by "-" ("f-sante-douleur", "f-actions-0-action"); a help text adds "--help", an
error "--error", the n-th option of a choice "--n".

The markup lives in templates/formkit/_fields.html, autoescaped: whatever comes from a schema
or from data is escaped there. This module decides what to draw; coerce.py reads it back.
"""

import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from flask_babel import gettext, ngettext
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from app.formkit.coerce import (
    MISSING,
    choices_of,
    defaults_of,
    field_name,
    properties_of,
    required_of,
    shape_of,
)
from app.validation import pointer_of

NEW_ROW = "__new__"
ID_UNSAFE = re.compile(r"[^A-Za-z0-9_]")
EMPTY = "—"
_ = gettext


def ordered(schema, ui):
    """Property names in display order: those of ui:order first, then the rest in schema order."""
    properties = properties_of(schema)
    order = ui.get("ui:order") if isinstance(ui.get("ui:order"), list) else []
    first = list(dict.fromkeys(n for n in order if isinstance(n, str) and n in properties))
    return first + [name for name in properties if name not in first]


def _ui(ui, key):
    child = ui.get(key) if isinstance(ui, dict) else None
    return child if isinstance(child, dict) else {}


# --- Markup ------------------------------------------------------------------------------------

# Outside Flask too (tests, the worker): a plain environment over the app's templates.
_env = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parents[1] / "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=StrictUndefined,
    extensions=["jinja2.ext.i18n"],
    auto_reload=False,  # _macros() runs once per field: no file check each time
)
_env.install_gettext_callables(gettext, ngettext, newstyle=True)


def _macros():
    return _env.get_template("formkit/_fields.html").module


def _html_value(value):
    """The string an input holds for a JSON value (what the browser will send back)."""
    if value is MISSING or value is None or isinstance(value, dict | list):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- Conditions --------------------------------------------------------------------------------


def _conditions(schema, path):
    """({property: tests} that show a field, {property: tests} that only make it required).

    if/then (also inside allOf) hides the fields it requires until its test holds; a field named
    by dependentRequired stays visible (it often makes sense alone, like the "responsable" of a
    PPCS action) and only gains its required marker. formkit.js reads the tests."""
    shown, required = {}, {}
    clauses = [schema, *(c for c in schema.get("allOf") or [] if isinstance(c, dict))]
    for clause in clauses:
        test = _test(clause.get("if"), path)
        then = clause.get("then")
        if test and isinstance(then, dict):
            for name in required_of(then):
                shown.setdefault(name, []).append(test)
        dependent = clause.get("dependentRequired")
        for trigger, names in (dependent if isinstance(dependent, dict) else {}).items():
            test = {"field": field_name([*path, trigger]), "filled": True}
            for name in names if isinstance(names, list) else []:
                required.setdefault(name, []).append(test)
    return shown, required


def _test(test, path):
    """One "if" as {"field": name, equals|in|contains|filled: ...}, None when too complex."""
    if not isinstance(test, dict):
        return None
    properties = test.get("properties") or {}
    if not properties:
        names = list(required_of(test))
        return {"field": field_name([*path, names[0]]), "filled": True} if len(names) == 1 else None
    if not isinstance(properties, dict) or len(properties) != 1:
        return None
    name, rule = next(iter(properties.items()))
    field, rule = field_name([*path, name]), rule if isinstance(rule, dict) else {}
    contains = rule.get("contains")
    if "const" in rule:
        return {"field": field, "equals": _html_value(rule["const"])}
    if isinstance(rule.get("enum"), list):
        return {"field": field, "in": [_html_value(value) for value in rule["enum"]]}
    if isinstance(contains, dict) and "const" in contains:
        return {"field": field, "contains": _html_value(contains["const"])}
    return None


# --- Form fields -------------------------------------------------------------------------------


@dataclass
class _Field:
    """A field to draw: its schema and data, and what its parent object says about it."""

    schema: dict
    ui: dict
    path: list
    value: object = MISSING
    required: bool = False
    shown_when: list | None = None
    required_when: list | None = None


@dataclass
class _View:
    """What a macro of formkit/_fields.html needs to draw one field."""

    id: str
    name: str
    title: str
    value: str
    required: bool
    conditional: bool
    help: str | None
    error: str | None
    shown_when: str | None
    required_when: str | None

    @property
    def described(self):
        notes = [f"{self.id}--help" if self.help else "", f"{self.id}--error" if self.error else ""]
        return " ".join(note for note in notes if note) or None


class _Render:
    """One rendering: the ids given so far, the errors shown, whether inside a row template."""

    def __init__(self, prefix, errors):
        self.prefix = prefix
        self.errors = errors if isinstance(errors, dict) else {}
        self.shown = set()
        self.ids = set()
        self.in_template = False

    def raw_id(self, path):
        parts = [ID_UNSAFE.sub(lambda m: f"_{ord(m[0]):x}_", str(p)) for p in path]
        return "-".join([self.prefix, *parts])

    def view(self, field):
        found, count = self.raw_id(field.path), 1
        while found in self.ids:  # only a crafted schema can make two paths look alike
            count += 1
            found = f"{self.raw_id(field.path)}--d{count}"
        self.ids.add(found)
        pointer = pointer_of(field.path)
        self.shown.add(pointer)
        error = self.errors.get(pointer)
        return _View(
            id=found,
            name=field_name(field.path),
            title=str(field.schema.get("title") or field.path[-1]),
            value=_html_value(field.value),
            required=field.required,
            conditional=bool(field.shown_when or field.required_when),
            help=str(field.schema["description"]) if field.schema.get("description") else None,
            error=str(error) if error else None,
            shown_when=_json(field.shown_when),
            required_when=_json(field.required_when),
        )


def _json(tests):
    return json.dumps(tests, ensure_ascii=False) if tests else None


def render_form(schema, ui_schema, values=None, errors=None, prefix="f"):
    """Return the fields of a form (no <form>, button or CSRF token: the page adds them).

    `values` is typed data to show, `errors` maps JSON pointers in that data to French messages;
    errors that no field shows are listed at the top so that none is lost. Without `values`,
    the schema's defaults are filled in. The page's <form> needs novalidate, and
    enctype="multipart/form-data" when the form has a file field."""
    render = _Render(prefix, errors)
    data = defaults_of(schema) if values is None else values
    body = _properties(render, schema, ui_schema or {}, [], data)
    missed = [message for pointer, message in render.errors.items() if pointer not in render.shown]
    return _macros().missed(missed) + body if missed else body


def _properties(render, schema, ui, path, data):
    data = data if isinstance(data, dict) else {}
    properties, required = properties_of(schema), required_of(schema)
    shown_when, required_when = _conditions(schema, path)
    html = []
    for name in ordered(schema, ui):
        field = _Field(
            properties[name],
            _ui(ui, name),
            [*path, name],
            data.get(name, MISSING),
            name in required,
            shown_when.get(name),
            required_when.get(name),
        )
        html.append(_field(render, field))
    return Markup("").join(html)


INPUT_TYPES = {"date": "date", "email": "email", "tel": "tel", "file": "file"}
# Numbers use a text input: type=number blanks out (and does not send) what is not a number,
# where the user must see what they typed beside the error.
INPUT_MODES = {"integer": "numeric", "number": "decimal"}


def _field(render, field):
    macros, shape = _macros(), shape_of(field.schema)
    widget, placeholder = field.ui.get("ui:widget"), field.ui.get("ui:placeholder")
    if shape == "section":
        view = render.view(field)
        content = _properties(render, field.schema, field.ui, field.path, field.value)
        return macros.section(view, content)
    if shape == "rows":
        return _group(render, field)
    view = render.view(field)
    if widget == "hidden":
        return Markup('<input type="hidden" name="{}" value="{}">').format(view.name, view.value)
    if shape == "multiple":
        options = _options(field.schema["items"])
        picked = [_html_value(v) for v in field.value] if isinstance(field.value, list) else []
        return macros.choices(view, "checkbox", options, picked)
    if shape == "boolean":
        return macros.choices(
            view, "radio", [("true", _("Oui")), ("false", _("Non"))], [view.value], True
        )
    options = _options(field.schema)
    if options and (widget == "radio" or (widget != "select" and len(options) <= 5)):
        return macros.choices(view, "radio", options, [view.value])
    if options:
        return macros.select(view, options)
    if widget == "textarea":
        return macros.textarea(view, placeholder)
    kind = "file" if shape == "file" else INPUT_TYPES.get(widget or field.schema.get("format"))
    if kind in ("file", "date"):
        placeholder = None
    return macros.input(view, kind or "text", INPUT_MODES.get(shape), placeholder)


def _options(schema):
    return [(_html_value(value), title) for value, title in choices_of(schema)]


def _group(render, field):
    """A repeatable group: its rows, a <template> row for formkit.js, and an Ajouter button.

    Without JavaScript, one empty row more than the data lets the user add a row by submitting;
    coerce() drops the rows left blank, so clearing a row removes it."""
    view = render.view(field)
    items = field.schema.get("items") if isinstance(field.schema.get("items"), dict) else {}
    limit = field.schema.get("maxItems")
    limit = limit if isinstance(limit, int) and not isinstance(limit, bool) else None
    rows = list(field.value) if isinstance(field.value, list) else []
    blank = defaults_of(items)
    wanted = max(1, len(rows))  # rows from there on are spare ones, removed by formkit.js
    count = 1 if render.in_template else wanted + 1
    if limit is not None:
        count = min(count, max(limit, len(rows)))
    rows += [blank] * (count - len(rows))
    html = Markup("").join(
        _row(render, field, items, i, row, i >= wanted) for i, row in enumerate(rows)
    )
    in_template, render.in_template = render.in_template, True
    template = _row(render, field, items, NEW_ROW, blank)
    render.in_template = in_template
    new = [*field.path, NEW_ROW]
    return _macros().group(
        view, html, template, field_name(new), render.raw_id(new), len(rows), limit
    )


def _row(render, group, items, index, value, spare=False):
    path, item_ui = [*group.path, index], _ui(group.ui, "items")
    view = render.view(_Field({"title": ""}, {}, path))
    word = str(items.get("title") or _("Ligne"))
    number = str(index + 1) if isinstance(index, int) else ""  # formkit.js numbers new rows
    if shape_of(items) == "section":
        content = _properties(render, items, item_ui, path, value)
    else:
        # A row of scalars holds one field, labelled like its group when the items have no title.
        labelled = {**items, "title": items.get("title") or group.schema.get("title") or ""}
        content = _field(render, _Field(labelled, item_ui, path, value))
    return _macros().row(view, word, number, content, spare)


# --- Read-only ---------------------------------------------------------------------------------


def render_readonly(schema, ui_schema, data):
    """Return a submitted form for reading: sections with headings (h3 and below), fields in
    definition lists, choices by their titles, Oui/Non, dd/mm/yyyy, "—" when empty."""
    return _read_properties(schema, ui_schema or {}, data, 3)


def _read_properties(schema, ui, data, level):
    """Consecutive simple fields in one definition list; sections and groups between them."""
    data, macros = data if isinstance(data, dict) else {}, _macros()
    properties, blocks, pairs = properties_of(schema), [], []
    for name in ordered(schema, ui):
        child, child_ui, value = properties[name], _ui(ui, name), data.get(name, MISSING)
        title = str(child.get("title") or name)
        if shape_of(child) in ("section", "rows"):
            blocks.append(macros.pairs(pairs) if pairs else "")
            body = _read_block(child, child_ui, value, level)
            blocks.append(macros.block(title, min(level, 6), body))
            pairs = []
        else:
            pairs.append((title, _read_value(child, child_ui, value)))
    blocks.append(macros.pairs(pairs) if pairs else "")
    return Markup("").join(blocks)


def _read_block(schema, ui, value, level):
    if shape_of(schema) == "section":
        return _read_properties(schema, ui, value, level + 1)
    items, item_ui = schema.get("items"), _ui(ui, "items")
    items = items if isinstance(items, dict) else {}
    rows = value if isinstance(value, list) else []
    if shape_of(items) == "section":
        return _macros().numbered([_read_properties(items, item_ui, r, level + 1) for r in rows])
    return _macros().numbered([_read_value(items, item_ui, row) for row in rows])


def _read_value(schema, ui, value):
    if value is MISSING or value is None or value == "" or value == []:
        return EMPTY
    if shape_of(schema) == "multiple" and isinstance(value, list):
        return _macros().listed([_title(schema.get("items"), item) for item in value])
    if isinstance(value, bool):
        return _("Oui") if value else _("Non")
    if choices_of(schema):
        return _title(schema, value)
    if isinstance(value, float):
        return str(value).replace(".", ",")
    if isinstance(value, str) and (schema.get("format") == "date" or ui.get("ui:widget") == "date"):
        return _french_date(value)
    if isinstance(value, str):
        return Markup("<br>").join(escape(line) for line in value.split("\n"))
    return str(value)


def _title(schema, value):
    for choice, title in choices_of(schema):
        if choice == value and isinstance(choice, bool) == isinstance(value, bool):
            return title
    return _html_value(value)


def _french_date(value):
    try:
        return date.fromisoformat(value).strftime("%d/%m/%Y")
    except ValueError:
        return value
