"""Typed JSON data from the fields that render_form() put in an HTML form.

Names follow the scheme described at the top of render.py ("sante.douleur", "actions.0.action").
The walk follows the schema, never the submitted names, so an unknown or hostile name
("__proto__", "actions.0.action.x") never reaches the data. Values that do not convert stay as
typed: the validator then says what is wrong in French and the page shows the user's input.
Files are left out: uploads come with the dossiers.
"""

import math
import re

from werkzeug.datastructures import MultiDict

MISSING = object()  # "no value", distinct from None, False, 0 and ""
ROWS_WITHOUT_MAX = 50
INDEX = re.compile(r"[0-9]{1,9}")
NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)(?:[eE][+-]?[0-9]{1,3})?")
INTEGER = re.compile(r"[+-]?[0-9]{1,30}")
MAX_NAME_PARTS = 64  # far beyond the 10 levels a published form may have (schema.py)


# --- Reading schemas (shared with render.py) ---------------------------------------------------


def field_name(path):
    return ".".join(str(part) for part in path)


def type_of(schema):
    kind = schema.get("type")
    if isinstance(kind, list):  # ["integer", "null"]: the non-null one decides the input
        kind = next((k for k in kind if k != "null"), None)
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    return kind


def choices_of(schema):
    """[(value, French title)] of a single choice, from oneOf/anyOf consts or an enum."""
    if not isinstance(schema, dict):
        return []
    branches = schema.get("oneOf") or schema.get("anyOf")
    if isinstance(branches, list) and branches:
        found = [(b["const"], str(b.get("title", b["const"]))) for b in branches if _has_const(b)]
        if len(found) == len(branches):
            return found
    enum = schema.get("enum")
    return [(value, str(value)) for value in enum] if isinstance(enum, list) else []


def _has_const(branch):
    return isinstance(branch, dict) and "const" in branch


def shape_of(schema):
    """How a schema travels through HTML: file, section, rows, multiple, or its scalar type."""
    if not isinstance(schema, dict):
        return "string"
    if "contentMediaType" in schema or "contentEncoding" in schema:
        return "file"
    kind = type_of(schema)
    if kind == "object":
        return "section"
    if kind == "array":
        return "multiple" if choices_of(schema.get("items")) else "rows"
    return kind if kind in ("boolean", "integer", "number") else "string"


def properties_of(schema):
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return {}
    return {name: child for name, child in properties.items() if isinstance(child, dict)}


def required_of(schema):
    required = schema.get("required") if isinstance(schema, dict) else None
    return set(required) if isinstance(required, list) else set()


def defaults_of(schema):
    """The data that the schema's "default" keywords give, MISSING when none applies."""
    if not isinstance(schema, dict):
        return MISSING
    if "default" in schema:
        return schema["default"]
    if shape_of(schema) != "section":
        return MISSING
    found = {name: defaults_of(child) for name, child in properties_of(schema).items()}
    return {name: value for name, value in found.items() if value is not MISSING}


# --- Coercion ----------------------------------------------------------------------------------


def coerce(schema, form):
    """Return the typed data of `form` (a MultiDict of submitted fields) for `schema`.

    Strings are stripped, and left out when empty so that "required" is reported; numbers and
    yes/no are converted; sections and rows left empty are left out (a required section is
    kept as {} so that its own required fields are reported); a blank row, or one holding only
    its defaults, is dropped. Groups keep at most maxItems + 1 rows (50 without maxItems): one
    too many lets the validator say so instead of a row being lost silently."""
    form = form if hasattr(form, "getlist") else MultiDict(form)
    return _Reader(form).object(schema, [])


class _Reader:
    def __init__(self, form):
        self.form = form
        self.rows = _row_numbers(form)

    def object(self, schema, path):
        data, required = {}, required_of(schema)
        for name, child in properties_of(schema).items():
            value = self.value(child, [*path, name])
            if value == {} and shape_of(child) == "section" and name not in required:
                continue
            if value is not MISSING:
                data[name] = value
        return data

    def value(self, schema, path):
        shape, name = shape_of(schema), field_name(path)
        if shape == "file":
            return MISSING
        if shape == "section":
            return self.object(schema, path)
        if shape == "rows":
            return self.rows_of(schema, path)
        if shape == "multiple":
            return self.multiple(schema, name)
        return _scalar(shape, self.form.get(name))

    def multiple(self, schema, name):
        item_shape = shape_of(schema["items"])
        limit = max(_limit(schema), len(choices_of(schema["items"])))
        values = []
        for raw in self.form.getlist(name):
            value = _scalar(item_shape, raw)
            if value is not MISSING and value not in values:
                values.append(value)
            if len(values) >= limit:
                break
        return values or MISSING

    def rows_of(self, schema, path):
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        blank, limit, rows = defaults_of(items), _limit(schema), []
        # Row numbers only order the rows: a huge one allocates nothing.
        for number in sorted(self.rows.get(field_name(path), ())):
            row = self.value(items, [*path, number])
            if not _blank(row, blank):
                rows.append(row)
            if len(rows) >= limit:
                break
        return rows or MISSING


def _row_numbers(form):
    """{group name: set of row numbers} read once from every submitted name."""
    found = {}
    for key in form:  # a MultiDict iterates over its distinct keys
        parts = key.split(".", MAX_NAME_PARTS)
        for position, part in enumerate(parts[1:MAX_NAME_PARTS], start=1):
            if INDEX.fullmatch(part):
                found.setdefault(".".join(parts[:position]), set()).add(int(part))
    return found


def _limit(schema):
    most = schema.get("maxItems")
    if isinstance(most, int) and not isinstance(most, bool) and most >= 0:
        return most + 1
    return ROWS_WITHOUT_MAX


def _blank(row, blank):
    """Whether a row holds nothing but its defaults (nested sections included)."""
    if row is MISSING or row == blank:
        return True
    if not isinstance(row, dict):
        return False
    blank = blank if isinstance(blank, dict) else {}
    return all(_blank(value, blank.get(name, MISSING)) for name, value in row.items())


def _scalar(shape, raw):
    if not isinstance(raw, str):
        return MISSING
    text = raw.replace("\r\n", "\n").replace("\r", "\n").strip()  # browsers send CRLF
    if not text:
        return MISSING
    if shape == "boolean":
        return {"true": True, "false": False}.get(text, text)
    if shape in ("integer", "number"):
        return _number(text, shape == "integer")
    return text


def _number(text, integer):
    """12 or 12.5 from "12", "12,5", "1 200"; the text itself when it is not a finite number
    (or not a whole one for an integer)."""
    compact = re.sub(r"[\s\u202f]", "", text)  # "1 200" with a (narrow) no-break space
    if INTEGER.fullmatch(compact):
        return int(compact)
    if len(compact) > 40 or not NUMBER.fullmatch(compact):
        return text
    number = float(compact.replace(",", "."))
    if not math.isfinite(number):
        return text
    if integer:
        return int(number) if number.is_integer() else text
    return number
