"""The kinds of notification, their channels and defaults: one table, read by the listeners,
the preferences (page and API), the e-mails and the help."""

from dataclasses import dataclass

# How a user wants to hear of a kind of notice.
CHANNELS = {
    "app": "Dans l'application seulement",
    "immediate": "Par e-mail, tout de suite",
    "digest": "Par e-mail, dans un résumé quotidien",
    "off": "Ne pas me prévenir",
}
EMAIL_CHANNELS = {"immediate", "digest"}


@dataclass(frozen=True)
class Kind:
    label: str  # what the preferences page calls it
    default: str  # the channel until the user chooses
    subject: str  # the e-mail's subject: says that something awaits, nothing more
    sentence: str  # the e-mail's one sentence, of the same kind
    digest: tuple  # (singular, plural) for the daily digest: "1 tâche confiée"


KINDS = {
    "task_assigned": Kind(
        "Une tâche m'est confiée",
        "immediate",
        "Une tâche vous attend sur Parcours",
        "Une tâche vous a été confiée sur Parcours.",
        ("tâche confiée", "tâches confiées"),
    ),
    "task_available": Kind(
        "Une tâche est proposée à ma profession (à prendre)",
        "digest",
        "Une tâche est à prendre sur Parcours",
        "Une tâche proposée à votre profession peut être prise sur Parcours.",
        ("tâche à prendre", "tâches à prendre"),
    ),
    "task_overdue": Kind(
        "Une tâche qui me concerne est en retard",
        "immediate",
        "Une tâche est en retard sur Parcours",
        "Une tâche qui vous concerne a dépassé son échéance sur Parcours.",
        ("tâche en retard", "tâches en retard"),
    ),
    "reminder": Kind(
        "Relance d'un parcours",
        "immediate",
        "Une relance vous attend sur Parcours",
        "Un parcours de coordination vous adresse une relance sur Parcours.",
        ("relance", "relances"),
    ),
    "escalation": Kind(
        "Alerte d'un parcours (escalade)",
        "immediate",
        "Une alerte vous attend sur Parcours",
        "Un parcours de coordination signale une situation qui demande votre attention.",
        ("alerte", "alertes"),
    ),
    "message": Kind(
        "Nouveau message dans une discussion que je suis",
        "immediate",
        "Un message vous attend sur Parcours",
        "Un professionnel vous a écrit sur Parcours.",
        ("discussion avec un nouveau message", "discussions avec de nouveaux messages"),
    ),
    "circle_added": Kind(
        "Ajout à un cercle de soins",
        "digest",
        "Vous avez rejoint un cercle de soins sur Parcours",
        "Vous avez été ajouté(e) au cercle de soins d'une personne accompagnée.",
        ("ajout à un cercle de soins", "ajouts à des cercles de soins"),
    ),
    "join_request": Kind(
        "Demande pour rejoindre un cercle de soins que je gère",
        "immediate",
        "Une demande attend votre décision sur Parcours",
        "Un professionnel demande à rejoindre un cercle de soins que vous gérez.",
        ("demande à traiter", "demandes à traiter"),
    ),
    "consent_withdrawn": Kind(
        "Retrait du consentement sur un de mes dossiers",
        "immediate",
        "Un consentement a été retiré sur Parcours",
        "Le consentement au partage a été retiré sur un dossier qui vous concerne.",
        ("retrait de consentement", "retraits de consentement"),
    ),
    "account": Kind(
        "Décision sur mon compte",
        "immediate",
        "Votre compte Parcours",
        "Une décision a été prise sur votre compte Parcours.",
        ("décision sur votre compte", "décisions sur votre compte"),
    ),
}


def label(kind):
    found = KINDS.get(kind)
    return found.label if found else kind
