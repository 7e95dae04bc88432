from mongoengine import BooleanField, DateTimeField, Document, ListField, ObjectIdField, StringField

from app.clock import utcnow
from app.reference import PROFESSIONS, profession_label
from app.text import fold, tokens


class Professional(Document):
    """A directory entry: a professional with or without an account (DESIGN.md §2).

    The RPPS import (issue 7) fills it from the national extract; until then entries are added
    by hand, e.g. when a coordinator adds someone without an account to a circle of care.
    """

    rpps = StringField(max_length=20)
    last_name = StringField(required=True, max_length=100)
    first_name = StringField(max_length=100)
    profession = StringField(choices=list(PROFESSIONS))
    specialty = StringField(max_length=200)
    email = StringField(max_length=254)
    mss = StringField(max_length=254)  # MSSanté address
    user = ObjectIdField()  # the account, once the professional has one
    source = StringField(choices=["rpps", "manual"], default="manual")
    active = BooleanField(default=True)
    search_keys = ListField(StringField())
    created_by = StringField()
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    meta = {"collection": "professionals", "indexes": ["search_keys", "rpps", "user"]}

    def clean(self):
        self.search_keys = tokens(self.last_name, self.first_name) + (
            [fold(self.email)] if self.email else []
        )

    def __repr__(self):
        return f"<Professional {self.last_name} {self.first_name or ''}>"

    @property
    def name(self):
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    @property
    def profession_label(self):
        return profession_label(self.profession)
