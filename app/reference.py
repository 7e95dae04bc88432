"""Reference lists shared by every feature: professions, sectors, roles (DESIGN.md §5).

Profession codes are the RPPS codes as the national extract writes them; professions outside
the RPPS use slugs. Each profession belongs to a category that the habilitation matrix uses.
"""

PROFESSION_CATEGORIES = {
    "medical": "Médical",
    "pharmacie": "Pharmacie",
    "paramedical": "Paramédical",
    "psychologie": "Psychologie",
    "social": "Social",
    "aide_domicile": "Aide à domicile",
    "coordination": "Coordination",
    "administratif": "Administratif",
}

# code: (label, category)
PROFESSIONS = {
    "10": ("Médecin", "medical"),
    "21": ("Pharmacien", "pharmacie"),
    "40": ("Chirurgien-dentiste", "medical"),
    "50": ("Sage-femme", "medical"),
    "60": ("Infirmier", "paramedical"),
    "69": ("Infirmier psychiatrique", "paramedical"),
    "70": ("Masseur-kinésithérapeute", "paramedical"),
    "80": ("Pédicure-podologue", "paramedical"),
    "81": ("Orthoprothésiste", "paramedical"),
    "91": ("Orthophoniste", "paramedical"),
    "92": ("Orthoptiste", "paramedical"),
    "96": ("Psychomotricien", "paramedical"),
    "98": ("Diététicien", "paramedical"),
    "coordinateur": ("Coordinateur de parcours", "coordination"),
    "assistant_social": ("Assistant de service social", "social"),
    "educateur_specialise": ("Éducateur spécialisé", "social"),
    "cesf": ("Conseiller en économie sociale et familiale", "social"),
    "mandataire_judiciaire": ("Mandataire judiciaire", "social"),
    "aide_a_domicile": ("Aide à domicile", "aide_domicile"),
    "auxiliaire_de_vie": ("Auxiliaire de vie sociale", "aide_domicile"),
    "psychologue": ("Psychologue", "psychologie"),
    "ergotherapeute": ("Ergothérapeute", "paramedical"),
    "secretaire": ("Secrétaire médical", "administratif"),
}

SECTORS = {
    "sanitaire": "Sanitaire",
    "social": "Social",
    "medico_social": "Médico-social",
}

STRUCTURE_KINDS = {
    "dac": "Dispositif d'appui à la coordination (DAC)",
    "hopital": "Établissement de santé",
    "ssiad": "Service de soins infirmiers à domicile (SSIAD)",
    "ehpad": "EHPAD",
    "saad": "Service d'aide à domicile (SAAD)",
    "cpts": "Communauté professionnelle territoriale de santé (CPTS)",
    "msp": "Maison de santé pluriprofessionnelle",
    "ccas": "Centre communal d'action sociale (CCAS)",
    "conseil_departemental": "Conseil départemental",
    "cabinet": "Cabinet libéral",
    "autre": "Autre",
}

STRUCTURE_ROLES = {
    "structure_admin": "Administrateur de structure",
    "coordinator": "Coordinateur",
    "professional": "Professionnel",
}

CARE_ROLES = {
    "coordinateur": "Coordinateur",
    "medecin_traitant": "Médecin traitant",
    "medecin_specialiste": "Médecin spécialiste",
    "infirmier": "Infirmier",
    "pharmacien": "Pharmacien",
    "kinesitherapeute": "Kinésithérapeute",
    "assistant_social": "Assistant social",
    "aide_a_domicile": "Aide à domicile",
    "psychologue": "Psychologue",
    "ergotherapeute": "Ergothérapeute",
}

# What the data of a form is about: the habilitation matrix decides who reads each category.
DATA_CATEGORIES = {
    "administratif": "Administratif",
    "social": "Social",
    "medical": "Médical",
    "soins": "Soins",
    "autonomie": "Autonomie",
    "psychologique": "Psychologique",
}

USER_STATUSES = {
    "requested": "Demande en cours",
    "verified": "Identité vérifiée",
    "active": "Actif",
    "suspended": "Suspendu",
}


def profession_label(code):
    return PROFESSIONS.get(code, (code or "", None))[0]


def profession_category(code):
    return PROFESSIONS.get(code, (None, None))[1]
