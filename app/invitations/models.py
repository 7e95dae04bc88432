from mongoengine import DateTimeField, Document, ObjectIdField, StringField

from app.clock import utcnow
from app.reference import PROFESSIONS

STATUSES = {
    "sent": "Envoyée",
    "accepted": "Demande de compte déposée",
    "expired": "Expirée",
    "revoked": "Annulée",
}
CONTEXTS = {
    "free": "Invitation",
    "directory": "Depuis l'annuaire",
    "dossier": "Depuis un cercle de soins",
    "conversation": "Depuis une conversation",
}


class Invitation(Document):
    """An invitation and its link's state. The link carries the invitation's id and a nonce,
    signed with the platform's key; only the nonce's hash is kept, and a link works once."""

    email = StringField(required=True, max_length=254)
    name = StringField(required=True, max_length=200)
    profession = StringField(choices=list(PROFESSIONS))
    note = StringField(max_length=1000)  # a word from the inviter, in the e-mail
    context = StringField(choices=list(CONTEXTS), default="free")
    context_id = ObjectIdField()  # the directory entry, dossier or conversation
    professional = ObjectIdField()  # the directory entry of the person invited, if known
    inviter = ObjectIdField(required=True)
    inviter_name = StringField(required=True)
    nonce_hash = StringField(required=True)
    status = StringField(choices=list(STATUSES), default="sent")
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField(required=True)
    used_at = DateTimeField()
    account_request = ObjectIdField()

    meta = {
        "collection": "invitations",
        "indexes": [("inviter", "-created_at"), ("inviter", "email", "status")],
    }

    def status_now(self, now):
        if self.status == "sent" and self.expires_at <= now:
            return "expired"
        return self.status

    @property
    def context_label(self):
        return CONTEXTS[self.context]
