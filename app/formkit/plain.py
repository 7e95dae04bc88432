"""A submitted form as labelled plain text, for exports (PDF, FHIR answers): the same reading
as render.render_readonly (labels, choices by their titles, Oui/Non, dd/mm/yyyy), without
HTML."""

from datetime import date

from app.formkit.coerce import MISSING, choices_of, properties_of, shape_of
from app.formkit.render import EMPTY, ordered


def labelled(schema, ui_schema, data):
    """[("field", label, text) | ("section", title, [...]) | ("rows", title, [[...], ...])]."""
    return _properties(schema, ui_schema or {}, data if isinstance(data, dict) else {})


def _properties(schema, ui, data):
    properties, found = properties_of(schema), []
    for name in ordered(schema, ui):
        child, child_ui, value = properties[name], _ui(ui, name), data.get(name, MISSING)
        title = str(child.get("title") or name)
        shape = shape_of(child)
        if shape == "section":
            found.append(
                (
                    "section",
                    title,
                    _properties(child, child_ui, value if isinstance(value, dict) else {}),
                )
            )
        elif shape == "rows":
            items, item_ui = child.get("items") or {}, _ui(child_ui, "items")
            rows = value if isinstance(value, list) else []
            if shape_of(items) == "section":
                found.append(
                    (
                        "rows",
                        title,
                        [
                            _properties(items, item_ui, r if isinstance(r, dict) else {})
                            for r in rows
                        ],
                    )
                )
            else:
                found.append(
                    ("rows", title, [[("field", "", text(items, item_ui, r))] for r in rows])
                )
        else:
            found.append(("field", title, text(child, child_ui, value)))
    return found  # fmt: skip


def text(schema, ui, value):
    if value is MISSING or value is None or value == "" or value == []:
        return EMPTY
    if shape_of(schema) == "multiple" and isinstance(value, list):
        return ", ".join(_choice(schema.get("items") or {}, item) for item in value)
    if isinstance(value, bool):
        return "Oui" if value else "Non"
    if choices_of(schema):
        return _choice(schema, value)
    if isinstance(value, float):
        return str(value).replace(".", ",")
    if isinstance(value, str) and (schema.get("format") == "date" or ui.get("ui:widget") == "date"):
        try:
            return date.fromisoformat(value).strftime("%d/%m/%Y")
        except ValueError:
            return value
    return str(value)


def _ui(ui, key):
    child = ui.get(key) if isinstance(ui, dict) else None
    return child if isinstance(child, dict) else {}


def _choice(schema, value):
    for choice, title in choices_of(schema):
        if choice == value and isinstance(choice, bool) == isinstance(value, bool):
            return str(title)
    return str(value)
