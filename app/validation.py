"""Input validation with JSON Schema, errors in French keyed by JSON pointer.

The same schemas check the API bodies, the HTML forms (through the services) and document the
API in its OpenAPI description: one source for each rule.
"""

from jsonschema import Draft202012Validator, FormatChecker

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class InvalidInput(Exception):
    """Input rejected field by field: `fields` maps JSON pointers to French messages."""

    def __init__(self, fields, message="Les données envoyées sont invalides."):
        super().__init__(message)
        self.message = message
        self.fields = fields


# Compiled once per schema; the validator keeps its schema alive, so its id stays unique.
_validators = {}


def check(schema, data):
    """Return `data` if it matches `schema`, else raise InvalidInput with every field's error."""
    validator = _validators.get(id(schema))
    if validator is None:
        validator = Draft202012Validator(schema, format_checker=FormatChecker())
        _validators[id(schema)] = validator
    fields = {}
    for error in validator.iter_errors(data):
        for pointer, message in french_errors(error):
            fields.setdefault(pointer, message)
    if fields:
        raise InvalidInput(dict(sorted(fields.items())))
    return data


def pointer_of(path):
    return "/" + "/".join(str(part).replace("~", "~0").replace("/", "~1") for part in path)


def french_errors(error):
    """Yield (JSON pointer, French message) for one jsonschema error.

    A "required" error does not say which name is missing: every missing name is reported.
    Errors of anyOf (and oneOf between schemas) are their sub-errors'.
    """
    if error.validator == "required":
        instance = error.instance if isinstance(error.instance, dict) else {}
        for name in error.validator_value:
            if name not in instance:
                yield pointer_of([*error.absolute_path, name]), "Ce champ est obligatoire."
        return
    if error.validator == "anyOf" and error.context:
        for sub in error.context:
            yield from french_errors(sub)
        return
    yield french_error(error)


def french_error(error):
    """Return (JSON pointer, French message) for one jsonschema error."""
    path = list(error.absolute_path)
    kind, value = error.validator, error.validator_value
    if kind == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return pointer_of([*path, extra[0] if extra else ""]), "Ce champ n'est pas attendu."
    if kind == "dependentRequired":
        instance = error.instance if isinstance(error.instance, dict) else {}
        missing = next(
            (
                need
                for trigger, needs in value.items()
                if trigger in instance
                for need in needs
                if need not in instance
            ),
            "",
        )
        return pointer_of([*path, missing]), "Ce champ est obligatoire."
    if kind in {"minimum", "maximum"} and {"minimum", "maximum"} <= set(error.schema):
        low, high = error.schema["minimum"], error.schema["maximum"]
        return pointer_of(path), f"La valeur doit être comprise entre {low} et {high}."
    if kind == "oneOf" and all("const" in branch for branch in value):
        return pointer_of(path), "Choisissez une valeur de la liste."
    return pointer_of(path), _message(kind, value, error.instance)


TYPE_NAMES = {
    "string": "un texte",
    "integer": "un nombre entier",
    "number": "un nombre",
    "boolean": "vrai ou faux",
    "array": "une liste",
    "object": "un objet",
    "null": "vide",
}


def _message(kind, value, instance):
    if kind == "type":
        names = value if isinstance(value, list) else [value]
        return "La valeur doit être " + " ou ".join(TYPE_NAMES.get(n, n) for n in names) + "."
    if kind == "minLength":
        if value == 1:
            return "Ce champ est obligatoire."
        return f"Saisissez au moins {value} caractères."
    if kind == "maxLength":
        return f"Saisissez au plus {value} caractères."
    if kind == "pattern":
        if value == EMAIL_PATTERN:
            return "Saisissez une adresse e-mail valide."
        return "Le format de la valeur est invalide."
    if kind == "format":
        return {
            "email": "Saisissez une adresse e-mail valide.",
            "date": "Saisissez une date valide.",
            "date-time": "Saisissez une date et une heure valides.",
        }.get(value, "Le format de la valeur est invalide.")
    if kind == "not":
        return "Cette valeur est réservée : choisissez-en une autre."
    if kind in {"enum", "const"}:
        return "Choisissez une valeur de la liste."
    if kind == "minimum":
        return f"La valeur doit être supérieure ou égale à {value}."
    if kind == "maximum":
        return f"La valeur doit être inférieure ou égale à {value}."
    if kind == "minItems":
        return "Choisissez au moins un élément." if value == 1 else f"Au moins {value} éléments."
    if kind == "maxItems":
        return f"Au plus {value} éléments."
    if kind == "uniqueItems":
        return "Chaque élément ne doit figurer qu'une fois."
    return "La valeur est invalide."
