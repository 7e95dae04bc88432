"""Forms benchmark: validations per second of the shipped evaluation form, on one core.

Run: .venv/bin/python tests/perf/forms_bench.py [--seconds 5]
Prints numbers; asserts nothing. Target (issue 3): at least 5,000 validations/s.
Also renders per second of the same form (empty, with data and an error, read-only).
"""

import argparse
import contextlib
import json
import time
from pathlib import Path

from app.formkit.render import render_form, render_readonly
from app.formkit.schema import check_form_schema, validate_data
from app.validation import InvalidInput

FORMS = Path(__file__).resolve().parents[2] / "forms"

EVALUATION = {
    "date_evaluation": "2026-11-27",
    "lieu_evaluation": "domicile",
    "sante": {
        "pathologies": "Insuffisance cardiaque, diabète de type 2",
        "traitements": "Furosémide, metformine",
        "hospitalisations_recentes": False,
        "douleur": 3,
        "troubles_cognitifs": "suspectes",
    },
    "gir": 3,
    "autonomie": {"chutes": False, "aides_techniques": ["canne"]},
    "situation_sociale": {
        "mode_de_vie": "seul",
        "ressources": "justes",
        "droits_ouverts": ["apa"],
        "mesure_protection": "aucune",
    },
    "environnement": {
        "type_logement": "maison",
        "logement_adapte": "partiellement",
        "accessibilite": ["plain_pied"],
        "insalubrite": False,
    },
    "aidants": {
        "aidant_present": True,
        "aidant_lien": "enfant",
        "epuisement": 6,
        "besoin_repit": True,
    },
    "risques": {"identifies": ["chute", "isolement"]},
    "synthese": {
        "analyse": "Situation complexe, aidante épuisée.",
        "suites_proposees": ["ppcs", "aides_domicile"],
    },
}


def rate(call, seconds):
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(10):
            call()
        count += 10
    return count / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    definition = json.loads((FORMS / "evaluation_multidimensionnelle.json").read_text())
    schema = definition["schema"]
    validate_data("bench", 1, schema, EVALUATION)  # compiles and caches the validator

    def valid():
        validate_data("bench", 1, schema, EVALUATION)

    def invalid():
        with contextlib.suppress(InvalidInput):
            validate_data("bench", 1, schema, {**EVALUATION, "gir": 9, "extra": 1})

    def render_empty():
        render_form(schema, definition["ui_schema"])

    def render_errors():
        render_form(
            schema,
            definition["ui_schema"],
            values=EVALUATION,
            errors={"/gir": "La valeur doit être comprise entre 1 et 6."},
        )

    def render_read_only():
        render_readonly(schema, definition["ui_schema"], EVALUATION)

    def publication():
        check_form_schema(schema, definition["ui_schema"])

    print(f"valid evaluation:   {rate(valid, args.seconds):8.0f} validations/s")
    print(f"invalid evaluation: {rate(invalid, args.seconds):8.0f} validations/s (2 errors)")
    print(f"render, empty:      {rate(render_empty, args.seconds):8.0f} renders/s")
    print(f"render, with data:  {rate(render_errors, args.seconds):8.0f} renders/s")
    print(f"render, read-only:  {rate(render_read_only, args.seconds):8.0f} renders/s")
    print(f"publication checks: {rate(publication, args.seconds):8.0f} checks/s")


if __name__ == "__main__":
    main()
