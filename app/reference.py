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

# Lanes that are not care roles: the platform's own processes (account verification) give
# their steps to the platform team, i.e. the platform administrators. Platform-wide pathways
# only.
PLATFORM_LANES = {"equipe_plateforme": "Équipe de la plateforme"}

# What a form or a pathway is for: a patient's dossier, or a process of the platform itself
# (account verification), which never runs or is filed on a dossier. Platform-wide only.
PURPOSES = {
    "patient": "Dossier d'une personne accompagnée",
    "platform": "Processus interne de la plateforme",
}
LANES = {**CARE_ROLES, **PLATFORM_LANES}

# The professions that can hold each care role: who is offered a pathway step of that lane
# in the coordinating structure when nobody of the circle holds the role.
CARE_ROLE_PROFESSIONS = {
    "coordinateur": ["coordinateur"],
    "medecin_traitant": ["10"],
    "medecin_specialiste": ["10"],
    "infirmier": ["60", "69"],
    "pharmacien": ["21"],
    "kinesitherapeute": ["70"],
    "assistant_social": ["assistant_social", "cesf"],
    "aide_a_domicile": ["aide_a_domicile", "auxiliaire_de_vie"],
    "psychologue": ["psychologue"],
    "ergotherapeute": ["ergotherapeute"],
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


# --- dossiers --------------------------------------------------------------------------------

# The identity's confidence level, as the RNIV names them (Référentiel national
# d'identitovigilance): a document checked makes it "validée", the INS obtained or checked
# through the INSi teleservice "récupérée", both "qualifiée". Only a qualified identity may
# carry its INS into an exchange.
IDENTITY_STATUSES = {
    "provisoire": "Provisoire",
    "validee": "Validée",
    "recuperee": "Récupérée",
    "qualifiee": "Qualifiée",
}
# The documents of high confidence the RNIV accepts to validate an identity.
IDENTITY_DOCUMENTS = {
    "cni": "Carte nationale d'identité",
    "passeport": "Passeport",
    "titre_sejour": "Titre de séjour permanent",
    "livret_famille": "Livret de famille ou extrait d'acte de naissance (mineur)",
}

SEXES = {"F": "Féminin", "M": "Masculin", "I": "Indéterminé"}

CONSENT_MODES = {"oral": "Oral", "written": "Écrit"}

LIVING_SITUATIONS = {
    "seul": "Vit seul(e) à domicile",
    "couple": "Vit en couple à domicile",
    "famille": "Vit en famille",
    "etablissement": "Vit en établissement",
    "sans_domicile": "Sans domicile stable",
    "autre": "Autre",
}

DOSSIER_STATUSES = {
    "active": "Actif",
    "consent_withdrawn": "Consentement retiré",
    "closed": "Clos",
}

# Who sees an entry: its author; the members habilitated for its data category; everyone.
VISIBILITIES = {
    "private": "Privée (moi seul)",
    "shared": "Partagée (membres habilités pour cette catégorie)",
    "public": "Publique (tout le cercle de soins)",
}

ENTRY_KINDS = {"form": "Formulaire", "note": "Note", "document": "Document"}

ACCESS_LEVELS = {"none": "Aucun accès", "read": "Lecture", "write": "Lecture et écriture"}

# The habilitation matrix shipped with the platform: data category -> profession category ->
# access. The platform admin edits it; a category or profession missing here means "none".
DEFAULT_HABILITATIONS = {
    "administratif": {
        "medical": "write",
        "pharmacie": "read",
        "paramedical": "read",
        "psychologie": "read",
        "social": "write",
        "aide_domicile": "read",
        "coordination": "write",
        "administratif": "write",
    },
    "social": {
        "medical": "read",
        "paramedical": "read",
        "psychologie": "read",
        "social": "write",
        "coordination": "write",
    },
    "medical": {
        "medical": "write",
        "pharmacie": "read",
        "paramedical": "read",
        "psychologie": "read",
        "coordination": "write",
    },
    "soins": {
        "medical": "write",
        "pharmacie": "write",
        "paramedical": "write",
        "psychologie": "read",
        "coordination": "read",
    },
    "autonomie": {
        "medical": "write",
        "pharmacie": "read",
        "paramedical": "write",
        "psychologie": "read",
        "social": "write",
        "aide_domicile": "write",
        "coordination": "write",
    },
    "psychologique": {
        "medical": "read",
        "psychologie": "write",
        "coordination": "read",
    },
}
