"""Searching the regional directory: by name (accent- and case-insensitive, by beginnings:
"lefeb" finds LEFÈBVRE), profession, specialty, commune, postcode, department, "has an
account"; in name order, page after page (a cursor, not page numbers).

The embedded database reads every document a query matches before it sorts or limits, and
adding a field outside an index to a query makes it a full scan (README, "Queries"). So each
search is driven by ONE key of the entry's `facets` (app/directory/models.py: a name's
beginning, a commune, a profession in a department…), the most selective one the criteria
give, in windows of `sort_name` on the (facets, sort_name) index; light rows are filtered
here on the other criteria, and only the page's entries are read whole.
"""

from bisect import bisect_right
from dataclasses import dataclass, fields

from app import policy
from app.db import database
from app.directory.models import NAME_KEY_LENGTHS, Professional, name_key, place_key
from app.dossiers.listing import ALPHABET
from app.dossiers.services import object_id
from app.errors import NotFound
from app.reference import PROFESSIONS
from app.text import HIGH, tokens
from app.validation import InvalidInput

PER_PAGE = 20
MAX_PER_PAGE = 50
MAX_TEXT = 100
NOT_FOUND = "Ce professionnel n'est pas dans l'annuaire."
NOTHING_ASKED = (
    "Saisissez un nom (3 lettres au moins pour un début de nom, ou un nom de 2 lettres en "
    "entier), ou choisissez une profession, une spécialité ou un lieu d'exercice."
)
# The light rows the filters read.
ROW = {"_id": 1, "sort_name": 1, "facets": 1, "search_keys": 1, "active": 1}


@dataclass(frozen=True)
class Criteria:
    name: str = ""
    profession: str = ""
    specialty: str = ""
    commune: str = ""
    postcode: str = ""
    department: str = ""
    has_account: bool = False

    @classmethod
    def from_args(cls, args):
        """From a query string; what is not understood is refused field by field."""
        errors, values = {}, {}
        for name in ("name", "profession", "specialty", "commune", "postcode", "department"):
            value = (args.get(name) or "").strip()
            if len(value) > MAX_TEXT:
                errors[f"/{name}"] = f"{MAX_TEXT} caractères au plus."
            values[name] = value
        if values["profession"] and values["profession"] not in PROFESSIONS:
            errors["/profession"] = "Profession inconnue."
        if values["postcode"] and not (
            values["postcode"].isdigit() and len(values["postcode"]) == 5
        ):
            errors["/postcode"] = "Code postal attendu sur 5 chiffres."
        department = values["department"].upper()
        if department and not (len(department) in (2, 3) and department.isalnum()):
            errors["/department"] = "Département attendu sous la forme 31, 2A ou 974."
        values["department"] = department
        if errors:
            raise InvalidInput(errors)
        has_account = (args.get("has_account") or "") in ("1", "true", "on")
        return cls(**values, has_account=has_account)

    @property
    def words(self):
        return tokens(self.name)

    def keys(self):
        """The facet keys an entry must all have (the name is matched on its own)."""
        wanted = []
        if self.profession and self.department:
            wanted.append(f"dp:{self.department}:{self.profession}")
        elif self.profession:
            wanted.append("p:" + self.profession)
        elif self.department:
            wanted.append("d:" + self.department)
        if self.commune:
            wanted.append("c:" + place_key(self.commune))
            if self.profession:  # on the same site
                wanted.append(f"ccp:{place_key(self.commune)}:{self.profession}")
        if self.postcode:
            wanted.append("cp:" + self.postcode)
            if self.profession:
                wanted.append(f"cpp:{self.postcode}:{self.profession}")
        if self.specialty:
            wanted.append("s:" + place_key(self.specialty))
        if self.has_account:
            wanted.append("a:1")
        return wanted

    def name_word(self):
        """The word the search reads by: the longest of 3 letters or more, else a
        two-letter name; "" when no name was typed."""
        words = [w for w in self.words if len(w) >= NAME_KEY_LENGTHS[0]]
        short = [w for w in self.words if len(w) == 2]
        return max(words, key=len) if words else (short[0] if short else "")

    def driver(self):
        """The one key the query reads by: the longest name word's beginning, else the most
        selective place, else the rest; None if nothing was asked."""
        if word := self.name_word():
            return name_key(word) if len(word) > 2 else "n:" + word  # 2 letters: exactly
        keys = self.keys()
        order = ("cpp:", "ccp:", "cp:", "c:", "dp:", "s:", "d:", "p:", "a:")
        return min(keys, key=lambda k: order.index(k.split(":")[0] + ":")) if keys else None

    def as_args(self):
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["has_account"] = "1" if self.has_account else ""
        return {k: v for k, v in values.items() if v}


def _cell(position, width):
    """The name prefix of `width` characters at `position` of the grid "0…" … "z…"."""
    size, chars = len(ALPHABET), []
    for _ in range(width):
        position, digit = divmod(position, size)
        chars.append(ALPHABET[digit])
    return "".join(reversed(chars))


def _position(name, width):
    """The position of the last grid cell at or before `name`, so that a window begun at
    `name` and ended at a later cell is never empty by construction."""
    position = 0
    for index in range(width):
        char = name[index : index + 1]
        digit = bisect_right(ALPHABET, char) - 1 if char else 0
        if digit < 0:  # below "0" (a space, a hyphen): the cell before this one
            return max(position * len(ALPHABET) ** (width - index) - 1, 0)
        position = position * len(ALPHABET) + digit
        if char and ALPHABET[digit] != char:  # between two letters: the row's last cell
            return (position + 1) * len(ALPHABET) ** (width - index - 1) - 1
    return position


def _grid(low, high, prefix, width, span):
    """[low, high) in windows of `prefix` + `width` characters: one cell wide at first,
    twice as wide each time one comes back nearly empty (what is found is sent in).
    Returns the span reached."""
    cells = len(ALPHABET) ** width
    position = _position(low[len(prefix) :] or "a", width)
    while low < high:
        end = position + span
        bound = min(prefix + _cell(end, width) if end < cells else prefix + HIGH, high)
        found = yield {"$gte": low, "$lt": bound}
        low, position = bound, end
        if found is not None and found < PER_PAGE // 2:
            span *= 2
    return span


def _windows(start, word=""):
    """[low, high) windows of names going up from `start`: two letters wide ("ma" to "mb")
    at first, so that a common key reads a few hundred rows at most, then wider as they
    come back nearly empty; the last is open past the end of the alphabet.

    When a word was typed, the names that begin with it hold most of what is found, and
    are read finer: those who bear it as their whole surname ("martin …", 900 of 200,000)
    by the initial of their first name, the longer names ("martinez", "martin-dupont") by
    the character after the word. A page of MARTIN, or of "ber" with an account, then
    reads dozens or hundreds of rows, not thousands."""
    if not word:
        yield from _grid(start, HIGH, "", 2, 1)
        return
    block = word + " "
    regions = [  # (low, high, prefix of the grid, its width), in name order
        ("", block, "", 2),
        (block, block + HIGH, block, 1),
        (block + HIGH, word + HIGH, word, 1),
        (word + HIGH, HIGH, "", 2),
    ]
    coarse_span = 1
    for low, high, prefix, width in regions:
        if start >= high:
            continue
        span = yield from _grid(max(start, low), high, prefix, width,
                                coarse_span if width == 2 else 1)  # fmt: skip
        if width == 2:
            coarse_span = span


def _names_match(keys, words):
    """Every word begins a name, but a two-letter word is a whole name ("Ly", not "Lyon")."""
    return all(
        any(key == word if len(word) == 2 else key.startswith(word) for key in keys)
        for word in words
    )


def _cursor(after):
    """ "<sort_name>~<id>" -> (sort_name, id); None if absent or garbled."""
    if not after or "~" not in after:
        return None
    name, _, entry_id = after.rpartition("~")
    oid = object_id(entry_id)
    return (name, oid) if oid else None


def search(actor, criteria, after=None, per_page=PER_PAGE):
    """(professionals, next cursor or None): a page of the active entries that meet the
    criteria, in name order, after the entry the cursor names."""
    policy.require(actor, "directory.search")
    driver = criteria.driver()
    if driver is None:
        raise InvalidInput({"/name": NOTHING_ASKED})
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    cursor, words, keys = _cursor(after), criteria.words, set(criteria.keys())
    collection = Professional._get_collection()
    found, windows = [], _windows(cursor[0] if cursor else "", criteria.name_word())
    window = next(windows)
    while True:
        rows = collection.find({"facets": driver, "sort_name": window}, ROW)
        kept = sorted(
            (row["sort_name"], row["_id"])
            for row in rows
            if row.get("active", True)
            and keys <= set(row.get("facets", ()))
            and _names_match(row.get("search_keys", ()), words)
            and (cursor is None or (row["sort_name"], row["_id"]) > cursor)
        )
        found += kept
        if len(found) > per_page:
            break
        try:
            window = windows.send(len(kept))
        except StopIteration:
            break
    page = found[:per_page]
    loaded = {p.id: p for p in Professional.objects(id__in=[i for _, i in page])}
    chosen = [loaded[i] for _, i in page if i in loaded]
    more = len(found) > per_page and page
    return chosen, (f"{page[-1][0]}~{page[-1][1]}" if more else None)


def specialties():
    """The specialties the last RPPS imports found, for the search form's suggestions."""
    found = database()["directory_vocabulary"].find_one({"_id": "specialties"}) or {}
    return found.get("values", [])


def remember_specialties(values):
    if values:
        database()["directory_vocabulary"].update_one(
            {"_id": "specialties"},
            {"$addToSet": {"values": {"$each": sorted(values)}}},
            upsert=True,
        )


def actions(actor, professional):
    """What `actor` may do from the professional's profile: invite them (no account yet), add
    them to a circle of care, write to them (the account's id)."""
    has_account = professional.user is not None
    return {
        "invite": professional.active
        and not has_account
        and policy.can(actor, "invitation.create"),
        "circle": professional.active and policy.can(actor, "directory.add"),
        "write": professional.user if has_account and professional.user != actor.id else None,
    }


def get(actor, professional_id):
    """An entry of the directory (an inactive one too: a circle of care may name it)."""
    policy.require(actor, "directory.search")
    oid = object_id(professional_id)
    professional = Professional.objects(id=oid).first() if oid else None
    if professional is None:
        raise NotFound(NOT_FOUND)
    return professional


def reindex(batch=1000):
    """Give the entries stored before the search keys existed their keys (an upgrade: run by
    `parcours install`); returns how many were updated."""
    from pymongo import UpdateOne

    from app.directory.models import search_fields

    collection, writes, done = Professional._get_collection(), [], 0
    for doc in collection.find({"sort_name": None}):  # a full scan, once
        sort_name, facets = search_fields(doc)
        writes.append(UpdateOne({"_id": doc["_id"]}, {"$set": {"sort_name": sort_name,
                                                               "facets": facets}}))  # fmt: skip
        if len(writes) == batch:
            done += collection.bulk_write(writes, ordered=False).modified_count
            writes = []
    if writes:
        done += collection.bulk_write(writes, ordered=False).modified_count
    return done
