"""The restricted evaluator of pathway expressions (app/engine/expressions.py).

Every escape is refused twice, by the static check at deploy time and at evaluation; the data
an expression reads is never changed; failures are French ExpressionErrors, never crashes.
"""

import copy
import sys

import pytest

from app.engine.expressions import (
    MAX_LENGTH,
    ExpressionError,
    compile_check,
    evaluate,
    references,
)

DATA = {
    "evaluation_multidimensionnelle": {
        "gir": 2,
        "aidant": "Fille",
        "besoins": ["repas", "toilette"],
    },
    "visite_domicile": {"date": "2026-03-01", "score": 7.5},
    "x": {"a": 1},
}

# Builtin eval()/exec() raise the "exec" audit event: count them while the hook is armed.
_EXEC = {"armed": False, "count": 0}


def _audit(event, _args):
    if event == "exec" and _EXEC["armed"]:
        _EXEC["count"] += 1


sys.addaudithook(_audit)


def check_and_evaluate(expression, names=None):
    names = copy.deepcopy(DATA) if names is None else names
    return compile_check(expression), evaluate(expression, names)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('evaluation_multidimensionnelle["gir"] <= 2', True),
        ('evaluation_multidimensionnelle["gir"] > 2 or visite_domicile["score"] >= 7', True),
        ('evaluation_multidimensionnelle.get("absent", 4)', 4),
        ('"repas" in evaluation_multidimensionnelle["besoins"]', True),
        ('len(evaluation_multidimensionnelle["besoins"])', 2),
        ('evaluation_multidimensionnelle["aidant"].lower().startswith("fi")', True),
        ("sorted(evaluation_multidimensionnelle.keys())", ["aidant", "besoins", "gir"]),
        ('any(b == "toilette" for b in evaluation_multidimensionnelle["besoins"])', True),
        ('[b.upper() for b in evaluation_multidimensionnelle["besoins"]]', ["REPAS", "TOILETTE"]),
        ("{k: v for k, v in x.items()}", {"a": 1}),
        ('"intensif" if evaluation_multidimensionnelle["gir"] <= 2 else "standard"', "intensif"),
        ("round(visite_domicile['score'] / 2, 1) + abs(-1) + min(1, 2) + max([3, 4])", 9.8),
        ('int("3") + float("0.5") + sum([1, 2]) + 2 ** 3', 14.5),
        ('str(x["a"]) + "-" * 3', "1---"),
        ("all([True, bool(1)]) and not None", True),
        ('visite_domicile["date"][:4]', "2026"),
        ('"P7D"', "P7D"),
        ('\n   evaluation_multidimensionnelle["gir"]  \n', 2),  # as BPMN text nodes come
    ],
)
def test_valid_expressions(expression, expected):
    assert check_and_evaluate(expression) == (None, expected)


ESCAPES = [
    ("().__class__.__base__.__subclasses__()", "Nom interdit : __subclasses__"),
    ('__import__("os")', "Fonction interdite : __import__"),
    ('open("/etc/passwd")', "Fonction interdite : open"),
    ("[].__class__", "Nom interdit : __class__"),
    ('getattr(x, "y")', "Fonction interdite : getattr"),
    ("(lambda: 1)()", "Appel interdit"),
    ('"a" * 10**9', "Résultat trop long"),
    ("9**9**9", "Puissance trop grande"),
    ("x.clear()", "Attribut interdit : clear"),
    ("globals()", "Fonction interdite : globals"),
    ('eval("1")', "Fonction interdite : eval"),
    ('f"{().__class__}"', "Construction interdite : chaîne formatée"),
    ('x.pop("a")', "Attribut interdit : pop"),
    ('x.update({"a": 2})', "Attribut interdit : update"),
    ('"{0.__class__}".format(x)', "Attribut interdit : format"),
    ('"%*d" % (10**8, 1)', "Le formatage de texte avec % n'est pas autorisé"),
    ("[1] * 10**8", "La répétition de listes n'est pas autorisée"),
    ("sum([[1], [2]], [])", "sum() additionne des nombres uniquement"),
    ("_secret", "Nom interdit : _secret"),
    ("(y := 1)", "Construction interdite : affectation"),
    ("[*x]", "Construction interdite : dépaquetage"),
    ("{**x}", "Construction interdite : dépaquetage « ** »"),
    ("type(x)", "Fonction interdite : type"),
    ('x["a"].__class__', "Nom interdit : __class__"),
    ("x.a", "Attribut interdit : a"),
    ("import os", "Expression invalide : syntaxe incorrecte"),
    ('x = 1; __import__("os")', "Expression invalide"),
    ("1\n__import__('os')", "Expression invalide"),
    ("-" * 500 + "1", "Expression trop imbriquée"),
    ("1" * (MAX_LENGTH + 1), "Expression trop longue"),
    ("", "Expression vide"),
    ("b'bytes'", "Constante interdite"),
]


@pytest.mark.parametrize(("expression", "message"), ESCAPES)
def test_escapes_are_refused_statically_and_at_evaluation(expression, message):
    names = copy.deepcopy(DATA)
    error = compile_check(expression)
    assert error is not None
    assert error.startswith(message)
    with pytest.raises(ExpressionError) as raised:
        evaluate(expression, names)
    assert raised.value.message.startswith(message)
    assert names == DATA  # nothing touched


def test_the_process_is_unharmed_after_every_escape():
    names = copy.deepcopy(DATA)
    _EXEC.update(armed=True, count=0)
    try:
        for expression, _ in ESCAPES:
            with pytest.raises(ExpressionError):
                evaluate(expression, names)
        assert evaluate('evaluation_multidimensionnelle["gir"] <= 2', names) is True
    finally:
        _EXEC["armed"] = False
    assert _EXEC["count"] == 0  # no builtin eval()/exec() ever ran
    assert names == DATA
    assert "os" not in evaluate.__globals__


def test_evaluation_works_on_copies():
    names = copy.deepcopy(DATA)
    result = evaluate("evaluation_multidimensionnelle", names)
    result["gir"] = 99
    result["besoins"].append("courses")
    assert names == DATA


@pytest.mark.parametrize(
    ("expression", "names", "message"),
    [
        ("inconnu > 2", {}, "Nom inconnu : inconnu"),
        ('x["b"]', None, "Clé absente : 'b'"),
        ('evaluation_multidimensionnelle["besoins"][5]', None, "Indice hors limites"),
        ('x["a"] / 0', None, "Division par zéro"),
        ('x["a"] + "a"', None, "Types de valeurs incompatibles"),
        ('int(evaluation_multidimensionnelle["aidant"])', None, "Valeur invalide"),
        ('x["a"].lower()', None, "Opération interdite"),  # a method of str, on an int
        ('str(evaluation_multidimensionnelle["besoins"])', None, "str() n'accepte qu'une"),
        ("[v for v in big]", {"big": list(range(20_000))}, "Résultat trop grand"),
        ("[t + t for t in big]", {"big": ["a" * 5000] * 100}, "Expression trop coûteuse"),
        ("big + big", {"big": "a" * 6000}, "Résultat trop long"),
    ],
)
def test_run_time_failures_are_french(expression, names, message):
    assert compile_check(expression) is None  # only the data makes them fail
    names = copy.deepcopy(DATA) if names is None else names
    with pytest.raises(ExpressionError) as raised:
        evaluate(expression, names)
    assert raised.value.message.startswith(message)


SECRET = "Sérologie VIH positive"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("int(f['note'])", "Valeur invalide (ValueError)"),
        ("f['note'] + 1", "Types de valeurs incompatibles (TypeError)"),
        ("f['note'] > 1", "Types de valeurs incompatibles (TypeError)"),
        ("f[f['note']]", "Clé absente (KeyError)"),  # the missing key is the data
        ("round(f['note'])", "Types de valeurs incompatibles (TypeError)"),
        ("float(f['note'])", "Valeur invalide (ValueError)"),
    ],
)
def test_run_time_failures_never_quote_a_value(expression, message):
    """Python quotes what it could not convert or compare: the messages go to people who
    may not see the data (issue 17), so only the kind of problem is kept."""
    with pytest.raises(ExpressionError) as raised:
        evaluate(expression, {"f": {"note": SECRET}})
    assert raised.value.message == message
    assert "Sérologie" not in raised.value.message
    assert "VIH" not in raised.value.message


@pytest.mark.parametrize(
    ("expression", "message"),
    [("1 / 0", "Division par zéro"), ('1 + "a"', "Types de valeurs incompatibles")],
)
def test_parts_that_read_no_data_are_evaluated_by_the_check(expression, message):
    assert compile_check(expression).startswith(message)


def test_non_text_is_refused():
    assert compile_check(None) == "Expression invalide : du texte est attendu"
    with pytest.raises(ExpressionError):
        evaluate(42, {})


def test_references_give_names_and_constant_keys():
    names, keys = references(
        'evaluation_multidimensionnelle["gir"] <= 2 and visite_domicile.get("score", 0) > 5 '
        'and any(b == "repas" for b in evaluation_multidimensionnelle["besoins"]) and len(x)'
    )
    assert names == {"evaluation_multidimensionnelle", "visite_domicile", "x"}
    assert keys == {
        ("evaluation_multidimensionnelle", "gir"),
        ("evaluation_multidimensionnelle", "besoins"),
        ("visite_domicile", "score"),
    }
    with pytest.raises(ExpressionError):
        references("__import__('os')")
