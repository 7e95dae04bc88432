"""Import the national RPPS open-data extract (`PS_LibreAcces_Personne_activite_*.txt`) into
the directory.

The file: `|`-separated with a trailing `|`, UTF-8, a header, one row per activity; the rows of
one person (same `Identifiant PP`) follow each other. Columns are found by their header name:
the national file moves them between releases.

Two passes over the file, each streaming (what stays in memory is 8 bytes per person):
1. check everything — encoding, header, separator, every line, a truncated end — and note
   each person's id; a file that cannot be read whole changes nothing;
2. merge the rows of each person into one professional with their exercise sites and apply
   them in batches: created, updated (their digest changed), unchanged (nothing written);
   then whoever the file no longer lists is marked inactive, never deleted.

A line that cannot be read (wrong number of columns, bad identifier, duplicate) is rejected
with its number and reason; its person is neither changed nor deactivated.
"""

import bisect
import hashlib
import json
from array import array
from dataclasses import dataclass, field

from pymongo import InsertOne, UpdateOne

from app.clock import utcnow
from app.directory.models import Professional, search_fields
from app.text import tokens

BATCH = 1000
MAX_REPORTED = 1000  # rejected lines kept in the report (all are counted)
COLUMNS = {
    "id_type": "Type d'identifiant PP",
    "id": "Identifiant PP",
    "last_name": "Nom d'exercice",
    "first_name": "Prénom d'exercice",
    "profession": "Code profession",
    "profession_name": "Libellé profession",
    "site": "Identifiant technique de la structure",
    "site_name": "Raison sociale site",
    "postcode": "Code postal (coord. structure)",
    "commune": "Libellé commune (coord. structure)",
    "department": "Code Département (structure)",
}
OPTIONAL = {
    "civility": "Libellé civilité d'exercice",
    "specialty": "Libellé savoir-faire",
    "mode": "Libellé mode exercice",
    "finess": "Numéro FINESS site",
    "commune_code": "Code commune (coord. structure)",
    "street_number": "Numéro Voie (coord. structure)",
    "street_index": "Indice répétition voie (coord. structure)",
    "street_type": "Libellé type de voie (coord. structure)",
    "street": "Libellé Voie (coord. structure)",
    "phone": "Téléphone (coord. structure)",
    "email": "Adresse e-mail (coord. structure)",
    "department_name": "Libellé Département (structure)",
}
ID_LENGTHS = {"8": 11, "0": 9}  # RPPS: 11 digits; ADELI: 9
ID_TYPES = {"8": "rpps", "0": "adeli"}


class ImportFailed(Exception):
    """The file cannot be imported at all (nothing was changed): French message."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


@dataclass
class Report:
    lines: int = 0
    persons: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    rejected_count: int = 0
    rejected: list = field(default_factory=list)  # (line number, reason), the first ones
    kept: set = field(default_factory=set)  # identifiers on rejected lines: not deactivated
    seen: array = field(default_factory=lambda: array("Q"))  # every person's id, as a number
    scattered: set = field(default_factory=set)  # persons whose rows are not consecutive
    specialties: set = field(default_factory=set)  # for the search form's suggestions

    def reject(self, number, reason, person_id=None):
        self.rejected_count += 1
        if len(self.rejected) < MAX_REPORTED:
            self.rejected.append((number, reason))
        if person_id:
            self.kept.add(person_id)

    def as_dict(self):
        return {
            "lines": self.lines, "persons": self.persons, "created": self.created,
            "updated": self.updated, "unchanged": self.unchanged,
            "deactivated": self.deactivated, "rejected_count": self.rejected_count,
            "rejected": [list(r) for r in self.rejected],
        }  # fmt: skip


# --- reading -----------------------------------------------------------------------------------


def _header(raw):
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFailed(_NOT_UTF8.format(line=1)) from None
    names = text.rstrip("\r\n").split("|")
    if len(names) == 1:
        raise ImportFailed(
            "La ligne d'en-tête n'est pas séparée par des « | » : est-ce bien l'extrait RPPS "
            "« PS_LibreAcces_Personne_activite » ?"
        )
    missing = [name for name in COLUMNS.values() if name not in names]
    if missing:
        raise ImportFailed(f"Colonnes absentes de l'en-tête : {', '.join(missing)}.")
    position = {key: names.index(name) for key, name in {**COLUMNS, **OPTIONAL}.items()
                if name in names}  # fmt: skip
    return position, len(names)


_NOT_UTF8 = (
    "Ligne {line} : le fichier n'est pas encodé en UTF-8 (l'extrait national l'est) ; "
    "enregistrez-le en UTF-8 puis importez-le de nouveau."
)


def _rows(stream, report):
    """(line number, {key: value}) of each readable line; rejected ones are reported. Raises
    ImportFailed for what makes the whole file unreadable."""
    first = stream.readline()
    if not first.strip():
        raise ImportFailed("Le fichier est vide.")
    position, width = _header(first)
    number, pending = 1, None
    for raw in stream:
        if pending is not None:
            yield pending
            pending = None
        number += 1
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ImportFailed(_NOT_UTF8.format(line=number)) from None
        ended = text.endswith("\n")
        values = text.rstrip("\r\n").split("|")
        if not text.strip():
            continue
        if len(values) != width:
            if not ended:
                raise ImportFailed(
                    f"La dernière ligne ({number}) est tronquée : le fichier est incomplet "
                    "(téléchargement interrompu ?). Rien n'a été importé."
                )
            person_id = values[position["id"]] if len(values) > position["id"] else None
            report.reject(number, f"{len(values) - 1} colonnes au lieu de {width - 1}", person_id)
            continue
        row = {key: values[index].strip() for key, index in position.items()}
        problem = _problem(row)
        if problem:
            report.reject(number, problem, row["id"])
            continue
        pending = (number, row)
    if pending is not None:
        yield pending
    report.lines = number - 1


def _problem(row):
    kind = row["id_type"]
    if kind not in ID_LENGTHS:
        return f"type d'identifiant inconnu « {kind} »"
    if len(row["id"]) != ID_LENGTHS[kind] or not row["id"].isdigit():
        return f"identifiant « {row['id']} » invalide ({ID_LENGTHS[kind]} chiffres attendus)"
    if not row["last_name"]:
        return "nom d'exercice vide"
    if not row["profession"]:
        return "code profession vide"
    return None


def _persons(stream, report):
    """Each person as (first line, [rows]); a second row of the same site is rejected."""
    current, rows, sites = None, [], {}
    for number, row in _rows(stream, report):
        if row["id"] != current:
            if rows:
                yield current, rows
            current, rows, sites = row["id"], [], {}
        key = row["site"] or f"line-{number}"
        if key in sites:
            report.reject(number, f"doublon de la ligne {sites[key]} (même personne, même site)")
            continue
        sites[key] = number
        rows.append(row)
    if rows:
        yield current, rows


# --- a person ----------------------------------------------------------------------------------


def _site(row):
    street = " ".join(
        part for part in (row.get("street_number", "") + row.get("street_index", ""),
                          row.get("street_type", ""), row.get("street", "")) if part
    )  # fmt: skip
    return {
        "key": row["site"], "name": row["site_name"], "address": street,
        "postcode": row["postcode"], "commune": row["commune"],
        "commune_code": row.get("commune_code", ""), "department": row["department"],
        "department_name": row.get("department_name", ""), "phone": row.get("phone", ""),
        "email": row.get("email", ""), "finess": row.get("finess", ""),
        "mode": row.get("mode", ""),
    }  # fmt: skip


def _person(rows):
    """The professional's fields from their rows, and the digest that says if they changed."""
    first = rows[0]
    fields = {
        "rpps": first["id"],
        "id_type": ID_TYPES[first["id_type"]],
        "civility": first.get("civility", ""),
        "last_name": first["last_name"],
        "first_name": first["first_name"],
        "profession": first["profession"],
        "profession_name": first["profession_name"],
        "specialty": next((r["specialty"] for r in rows if r.get("specialty")), ""),
        "sites": sorted((_site(r) for r in rows), key=lambda s: s["key"]),
    }
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
    return fields, digest


def _document(fields, digest, now, user=None):
    """The fields as stored, built directly (a model instance per person would cost more than
    the rest of the import): what Professional.clean would add, the search keys."""
    sort_name, facets = search_fields({**fields, "user": user})
    return {
        **fields,
        "source": "rpps",
        "active": True,
        "rpps_digest": digest,
        "search_keys": tokens(fields["last_name"], fields["first_name"]),
        "sort_name": sort_name,
        "facets": facets,
        "updated_at": now,
    }


# --- the import --------------------------------------------------------------------------------


def check_file(open_stream):
    """Pass 1: a Report of what the file holds (lines, persons, rejected, every person's id);
    ImportFailed if it cannot be imported. Writes nothing.

    The ids are kept as a sorted array of 8-byte numbers (2.4 MB for 300,000 persons), which
    also finds the persons whose rows are not consecutive."""
    report = Report()
    with open_stream() as stream:
        for person_id, rows in _persons(stream, report):
            report.persons += 1
            report.seen.append(int(person_id))
            report.specialties.update(r["specialty"] for r in rows if r.get("specialty"))
    ordered = array("Q", sorted(report.seen))
    report.seen = ordered
    report.scattered = {
        str(ordered[i]) for i in range(1, len(ordered)) if ordered[i] == ordered[i - 1]
    }
    return report


def import_file(open_stream, progress=None):
    """Check then apply the file `open_stream()` opens (binary); returns the Report.
    `progress(done, total)` is called with the number of persons applied so far."""
    report = check_file(open_stream)
    known = _Known.read()
    total, now = report.persons, utcnow()
    gathered = {}  # the rows of scattered persons, applied once whole
    with open_stream() as stream:
        batch = []
        for person_id, rows in _persons(stream, Report()):
            if str(int(person_id)) in report.scattered:
                gathered.setdefault(person_id, []).extend(rows)
                continue
            batch.append((person_id, rows))
            if len(batch) == BATCH:
                _apply(batch, known, now, report)
                batch = []
                if progress:
                    progress(report.created + report.updated + report.unchanged, total)
        _apply(batch + list(gathered.items()), known, now, report)
    report.persons = report.created + report.updated + report.unchanged
    report.deactivated = _deactivate_missing(report, known, now)
    if progress:
        progress(total, total)
    return report


def _short(digest):
    """The first 8 bytes of a digest, as a number (0 stands for "inactive")."""
    return int(digest[:16], 16) or 1


class _Known:
    """What the directory holds from earlier imports, as two aligned arrays sorted by id: the
    id and the short digest (0 when inactive or added by hand). 16 bytes per person, read in
    one pass."""

    def __init__(self, ids, digests, texts):
        self.ids, self.digests, self.texts = ids, digests, texts

    @classmethod
    def read(cls):
        pairs = []
        cursor = Professional._get_collection().find(
            {"rpps": {"$ne": None}},
            {"rpps": 1, "rpps_digest": 1, "active": 1, "source": 1, "_id": 0},
            batch_size=5000,
        )  # fmt: skip
        texts = {}
        for doc in cursor:
            text = doc.get("rpps") or ""
            if not text.isdigit():
                continue
            digest = doc.get("rpps_digest")
            # 0: not the import's (inactive, or added by hand): rewritten if the file lists
            # them, never deactivated by it
            imported = doc.get("source") == "rpps" and doc.get("active", True)
            short = _short(digest) if digest and imported else 0
            pairs.append((int(text), short))
            if len(text) != len(str(int(text))):  # leading zeros (ADELI): keep the text
                texts[int(text)] = text
        pairs.sort()
        return cls(array("Q", (p[0] for p in pairs)), array("Q", (p[1] for p in pairs)), texts)

    def find(self, number):
        index = bisect.bisect_left(self.ids, number)
        if index < len(self.ids) and self.ids[index] == number:
            return self.digests[index]
        return None

    def text(self, number):
        return self.texts.get(number, str(number))


def _apply(batch, known, now, report):
    writes, changed = [], []
    for person_id, rows in batch:
        fields, digest = _person(rows)
        found = known.find(int(person_id))
        if found is None:
            writes.append(InsertOne({**_document(fields, digest, now), "created_at": now}))
            report.created += 1
        elif found == _short(digest):
            report.unchanged += 1  # nothing to write: the common case of a monthly import
        else:
            changed.append((person_id, fields, digest))
            report.updated += 1
    if changed:  # their accounts, for the "has an account" search key
        query = {"rpps": {"$in": [person_id for person_id, _, _ in changed]}}
        users = {row["rpps"]: row.get("user") for row in
                 Professional._get_collection().find(query, {"rpps": 1, "user": 1})}  # fmt: skip
        for person_id, fields, digest in changed:
            document = _document(fields, digest, now, users.get(person_id))
            writes.append(UpdateOne({"rpps": person_id}, {"$set": document}))
    if writes:
        Professional._get_collection().bulk_write(writes, ordered=False)


def _deactivate_missing(report, known, now):
    """Those of an earlier import that this file no longer lists: inactive, kept (never
    deleted). Those on a rejected line are not: the file lists them, unreadably."""
    seen, gone = report.seen, []
    for number, digest in zip(known.ids, known.digests, strict=True):
        if not digest:
            continue  # inactive already
        index = bisect.bisect_left(seen, number)
        listed = index < len(seen) and seen[index] == number
        text = known.text(number)
        if not listed and text not in report.kept:
            gone.append(text)
    for start in range(0, len(gone), BATCH):
        Professional._get_collection().bulk_write(
            [UpdateOne({"rpps": text}, {"$set": {"active": False, "updated_at": now}})
             for text in gone[start : start + BATCH]],
            ordered=False,
        )  # fmt: skip
    return len(gone)
