from mongoengine import DateTimeField, DictField, Document, ListField, ObjectIdField, StringField

from app.clock import utcnow
from app.reference import PROFESSIONS

STATUSES = {
    "unconfirmed": "Adresse e-mail à confirmer",
    "submitted": "Déposée, en attente de l'équipe de la plateforme",
    "more_info": "Informations complémentaires demandées",
    "accepted": "Acceptée",
    "refused": "Refusée",
    "closed": "Classée sans suite (compléments non reçus)",
}


class AccountRequest(Document):
    """A professional's request for an account, as typed on the public page."""

    email = StringField(required=True, max_length=254)
    email_confirmed_at = DateTimeField()  # an invitation's link proves the address
    last_name = StringField(required=True, max_length=100)
    first_name = StringField(required=True, max_length=100)
    profession = StringField(required=True, choices=list(PROFESSIONS))
    rpps = StringField(max_length=11)
    structure_name = StringField(required=True, max_length=200)
    phone = StringField(max_length=30)
    message = StringField(max_length=2000)
    invitation = ObjectIdField()
    invited_by = ObjectIdField()
    status = StringField(choices=list(STATUSES), default="unconfirmed")
    # What the platform team wrote (a request for more, a refusal's reason) and the answers:
    # [{"at", "by": "equipe" | "demandeur", "text"}]
    exchanges = ListField(DictField())
    user = ObjectIdField()  # the account made when accepted
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    meta = {"collection": "account_requests", "indexes": [("email", "status"), "status"]}

    @property
    def status_label(self):
        return STATUSES[self.status]
