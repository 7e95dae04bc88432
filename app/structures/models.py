from mongoengine import BooleanField, DateTimeField, Document, StringField

from app.clock import utcnow
from app.reference import SECTORS, STRUCTURE_KINDS


class Structure(Document):
    """An organisation whose members coordinate care: a DAC, a hospital, an SSIAD…"""

    key = StringField(required=True, unique=True, max_length=64)
    name = StringField(required=True, max_length=200)
    sector = StringField(required=True, choices=list(SECTORS))
    kind = StringField(required=True, choices=list(STRUCTURE_KINDS))
    finess = StringField(max_length=9)
    siret = StringField(max_length=14)
    address = StringField(max_length=300)
    department = StringField(max_length=3)
    phone = StringField(max_length=30)
    email = StringField(max_length=254)
    active = BooleanField(default=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    meta = {"collection": "structures", "indexes": ["name", "active"]}

    def __repr__(self):
        return f"<Structure {self.key}>"

    @property
    def sector_label(self):
        return SECTORS.get(self.sector, self.sector)

    @property
    def kind_label(self):
        return STRUCTURE_KINDS.get(self.kind, self.kind)
