"""The fields of the form designer: their types and how a field's settings become schema.

A designer field is a small spec ({"type", "label", "required", "help", "options"…}); this
module turns it into JSON Schema and UI schema following the conventions of the shipped forms
(README, "Forms"), with French messages for settings that cannot be applied.
"""

import json
import math
import re
import unicodedata

from jsonschema import Draft202012Validator, FormatChecker

from app.formkit.coerce import choices_of
from app.formkit.schema import for_validation

FIELD_TYPES = {
    "text": "Texte court",
    "textarea": "Texte long",
    "number": "Nombre",
    "integer": "Nombre entier",
    "date": "Date",
    "boolean": "Oui / non",
    "choice": "Choix unique (liste)",
    "radio": "Choix unique (boutons)",
    "checkboxes": "Choix multiples",
    "email": "E-mail",
    "tel": "Téléphone",
    "file": "Fichier",
    "section": "Section",
    "group": "Groupe répétable",
}
CHOICES = ("choice", "radio", "checkboxes")
_TEXT, _NUMBER, _CHOICE = (
    {"placeholder", "default", "max_length"},
    {"placeholder", "default", "minimum", "maximum"},
    {"options", "default"},
)
_OBJECT = {"type": "object", "additionalProperties": False, "properties": {}, "required": []}
# type: (the schema a new field starts from, its ui:widget, the spec keys it accepts besides
# type, label, name, required and help). Other keys are refused, so that a setting the form
# would silently ignore never looks saved.
KINDS = {
    "text": ({"type": "string", "maxLength": 200}, None, _TEXT),
    "textarea": ({"type": "string", "maxLength": 5000}, "textarea", _TEXT),
    "number": ({"type": "number"}, None, _NUMBER),
    "integer": ({"type": "integer"}, None, _NUMBER),
    "date": ({"type": "string", "format": "date"}, None, {"default"}),
    "boolean": ({"type": "boolean"}, None, {"default"}),
    "choice": ({"type": "string"}, "select", _CHOICE),
    "radio": ({"type": "string"}, "radio", _CHOICE),
    "checkboxes": (
        {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "checkboxes",
        _CHOICE,
    ),
    "email": (
        {"type": "string", "format": "email", "maxLength": 254},
        None,
        {"placeholder", "default"},
    ),
    "tel": (
        {"type": "string", "maxLength": 20, "pattern": "^[0-9+ ().-]{6,20}$"},
        "tel",
        {"placeholder", "default"},
    ),
    "file": ({"type": "string", "contentMediaType": "application/octet-stream"}, "file", set()),
    "section": (_OBJECT, None, set()),
    "group": ({"type": "array", "maxItems": 50, "items": _OBJECT}, None, {"max_items"}),
}
COMMON = {"type", "label", "name", "required", "help"}
MAX_LABEL, MAX_HELP, MAX_OPTIONS, MAX_NAME = 200, 2000, 100, 40
NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss"})


def slugify(text, limit=MAX_NAME):
    """ASCII lowercase with "_" between words: "Été 2024 !" -> "ete_2024"."""
    folded = unicodedata.normalize("NFKD", str(text).translate(LIGATURES))
    folded = folded.encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "_", folded).strip("_")[:limit].rstrip("_")


# --- Settings ----------------------------------------------------------------------------------


def apply_settings(kind, field, field_ui, spec, problems):
    """Write the settings of `spec` into `field` and `field_ui`; None clears a setting."""
    if "label" in spec:
        field["title"] = _text(
            spec["label"], "/label", MAX_LABEL, problems, needed="Le libellé est obligatoire."
        )
    if "help" in spec:
        _set(field, "description", _text(spec["help"], "/help", MAX_HELP, problems))
    if "placeholder" in spec:
        _set(field_ui, "ui:placeholder", _text(spec["placeholder"], "/placeholder", 200, problems))
    if "required" in spec and not isinstance(spec["required"], bool):
        problems["/required"] = "Indiquez true ou false."
    if "max_length" in spec:
        length = spec["max_length"]
        if length is None:
            field["maxLength"] = KINDS[kind][0]["maxLength"]
        elif not _integer(length) or not 1 <= length <= 100_000:
            problems["/max_length"] = "La longueur maximale doit être un entier de 1 à 100 000."
        else:
            field["maxLength"] = length
    for key in ("minimum", "maximum"):
        if key in spec:
            value = spec[key]
            if kind == "integer" and value is not None and not _integer(value):
                problems[f"/{key}"] = "Saisissez un nombre entier."
            elif value is not None and not _number(value):
                problems[f"/{key}"] = "Saisissez un nombre."
            else:
                _set(field, key, value)
    low, high = field.get("minimum"), field.get("maximum")
    if low is not None and high is not None and low > high and "/minimum" not in problems:
        problems["/minimum"] = "Le minimum ne peut pas dépasser le maximum."
    if "options" in spec:
        target = field["items"] if kind == "checkboxes" else field
        choices = _options(spec["options"], choices_of(target), problems)
        if choices is not None:
            target.pop("enum", None)
            target["oneOf"] = choices
    if "max_items" in spec:
        most = spec["max_items"]
        if not _integer(most) or not 1 <= most <= 500:
            problems["/max_items"] = "Le nombre de lignes doit être un entier de 1 à 500."
        else:
            field["maxItems"] = most
    if kind in CHOICES and "options" not in spec and consts_of(field, kind) is None:
        problems["/options"] = "Donnez au moins 2 options."
    if "default" in spec:
        _set(field, "default", spec["default"])
    if "default" in field and not problems:
        checker = Draft202012Validator(
            for_validation({k: v for k, v in field.items() if k != "default"}),
            format_checker=FormatChecker(),
        )
        if not _finite(field["default"]) or not checker.is_valid(field["default"]):
            problems["/default"] = "La valeur par défaut ne convient pas à ce champ."


def _options(options, previous, problems):
    """oneOf choices for option labels; a label already there keeps its value (the data)."""
    if not isinstance(options, list) or len(options) < 2:
        problems["/options"] = "Donnez au moins 2 options."
        return None
    if len(options) > MAX_OPTIONS:
        problems["/options"] = f"Donnez au plus {MAX_OPTIONS} options."
        return None
    kept = {title: value for value, title in previous}
    choices, values = [], set()
    for index, option in enumerate(options):
        where = f"/options/{index}"
        title = _text(option, where, MAX_LABEL, problems, needed="Cette option est vide.")
        if where in problems:
            continue
        value = kept.get(title, slugify(title))
        if value == "":
            problems[where] = "Une option doit contenir au moins une lettre ou un chiffre."
        elif value in values:
            problems[where] = "Cette option est en double."
        else:
            values.add(value)
            choices.append({"const": value, "title": title})
    return None if any(p.startswith("/options") for p in problems) else choices


def consts_of(field, kind):
    """The values a choice or yes/no field can take; None for other fields."""
    if kind == "boolean":
        return [True, False]
    if kind not in CHOICES:
        return None
    choices = choices_of(field.get("items") if kind == "checkboxes" else field)
    return [value for value, _ in choices] or None


def _text(value, where, limit, problems, needed=None):
    """A stripped text, None when cleared; `needed` is the message when it may not be empty."""
    if value is None:
        if needed:
            problems[where] = needed
        return None
    if not isinstance(value, str):
        problems[where] = "Saisissez un texte."
        return None
    value = value.strip()
    if needed and not value:
        problems[where] = needed
    elif len(value) > limit:
        problems[where] = f"Saisissez au plus {limit} caractères."
    return value or None


def _set(node, key, value):
    if value is None:
        node.pop(key, None)
    else:
        node[key] = value


def _finite(value):
    """JSON without NaN or infinity, which jsonschema would let through as numbers."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _integer(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value):
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def unknown_settings(spec, kind):
    allowed = COMMON | KINDS[kind][2]
    return {
        f"/{key}": "Ce réglage ne s'applique pas à ce type de champ."
        for key in spec
        if key not in allowed
    }


def unique_name(label, taken):
    base = slugify(label) if isinstance(label, str) else ""
    if not base[:1].isalpha():  # a name starts with a letter: "2e visite" -> "champ_2e_visite"
        base = f"champ_{base}".rstrip("_")[:MAX_NAME].rstrip("_")
    name, count = base, 1
    while name in taken:
        count += 1
        suffix = f"_{count}"
        name = base[: MAX_NAME - len(suffix)].rstrip("_") + suffix
    return name
