from mongoengine import (
    BooleanField,
    DateTimeField,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentListField,
    ListField,
    ObjectIdField,
    StringField,
)

from app.clock import utcnow
from app.reference import PROFESSIONS, profession_label
from app.text import fold, tokens


class Site(EmbeddedDocument):
    """A place where the professional works, with its public contact (the RPPS extract's)."""

    key = StringField()  # the extract's "Identifiant technique de la structure"
    name = StringField()
    address = StringField()
    postcode = StringField()
    commune = StringField()
    commune_code = StringField()
    department = StringField()
    department_name = StringField()
    phone = StringField()  # the site's switchboard, public: never a personal number
    email = StringField()
    finess = StringField()
    mode = StringField()  # "Salarié", "Libéral…"


class Professional(Document):
    """A directory entry: a professional with or without an account (DESIGN.md §2), from the
    RPPS extract (app.directory.rpps) or added by hand (social and medico-social professions,
    someone without an account added to a circle of care)."""

    rpps = StringField(max_length=20)  # the RPPS (11 digits) or ADELI (9) identifier
    id_type = StringField(choices=["rpps", "adeli"])
    civility = StringField(max_length=50)
    last_name = StringField(required=True, max_length=100)
    first_name = StringField(max_length=100)
    # A code of the extract (PROFESSIONS has those the platform knows; the extract may hold
    # others, kept with their label) or a slug of a profession outside the RPPS.
    profession = StringField(max_length=40)
    profession_name = StringField(max_length=200)
    specialty = StringField(max_length=200)
    sites = EmbeddedDocumentListField(Site)
    rpps_digest = StringField()  # of what the last import read: unchanged persons are skipped
    email = StringField(max_length=254)
    mss = StringField(max_length=254)  # MSSanté address
    user = ObjectIdField()  # the account, once the professional has one
    source = StringField(choices=["rpps", "manual"], default="manual")
    active = BooleanField(default=True)
    search_keys = ListField(StringField())
    # The directory search (app/directory/search.py): one indexed key drives each query (a
    # name's beginning, a commune, a profession in a department…), in windows of names.
    facets = ListField(StringField())
    sort_name = StringField()
    created_by = StringField()
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    meta = {
        "collection": "professionals",
        "indexes": ["search_keys", "rpps", "user", ("facets", "sort_name")],
    }

    def clean(self):
        self.search_keys = tokens(self.last_name, self.first_name) + (
            [fold(self.email)] if self.email else []
        )
        self.sort_name, self.facets = search_fields(self.to_mongo().to_dict())

    def __repr__(self):
        return f"<Professional {self.last_name} {self.first_name or ''}>"

    @property
    def name(self):
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    @property
    def profession_label(self):
        if self.profession in PROFESSIONS:
            return profession_label(self.profession)
        return self.profession_name or self.profession or ""


# The name beginnings a search can start from: "lefeb" is looked up as "n:lefeb", "lefebvre"
# as "n:lefebv" (then filtered on the whole word). Two letters find a two-letter name ("Ly",
# "Le" of "Le Goff") exactly: as a beginning they would match a tenth of the directory.
NAME_KEY_LENGTHS = range(3, 7)


def name_key(token):
    return "n:" + token[: NAME_KEY_LENGTHS[-1]]


def place_key(text):
    return " ".join(tokens(text))


def search_fields(doc):
    """(sort_name, facets) of a professional's fields (a dict, as stored): the keys its
    search can be driven by (see app/directory/search.py)."""
    last, first = doc.get("last_name") or "", doc.get("first_name") or ""
    facets = set()
    for token in tokens(last, first):
        if len(token) == 2:
            facets.add("n:" + token)
        facets.update("n:" + token[:n] for n in NAME_KEY_LENGTHS if len(token) >= n)
    profession = doc.get("profession") or ""
    if profession:
        facets.add("p:" + profession)
    if doc.get("specialty"):
        facets.add("s:" + place_key(doc["specialty"]))
    for site in doc.get("sites") or []:
        department = site.get("department") or ""
        if department:
            facets.add("d:" + department)
            if profession:
                facets.add(f"dp:{department}:{profession}")
        if site.get("postcode"):
            facets.add("cp:" + site["postcode"])
            if profession:  # a profession in a town: one selective key
                facets.add(f"cpp:{site['postcode']}:{profession}")
        if site.get("commune"):
            facets.add("c:" + place_key(site["commune"]))
            if profession:
                facets.add(f"ccp:{place_key(site['commune'])}:{profession}")
    if doc.get("user"):
        facets.add("a:1")
    return fold(f"{last} {first}").strip(), sorted(facets)
