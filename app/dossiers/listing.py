"""Finding dossiers: "Mes dossiers" (the caller's, sorted, paged) and the identity search.

The embedded database reads every match of a query before it sorts or limits (DESIGN.md §7),
and building a MongoEngine dossier costs most of a millisecond. So no query here reads more
than a window of rows: "Mes dossiers" walks bounded windows of its sort key (time or name)
on an index, doubling them until a page is full, and pages with a cursor (the last row's key)
instead of a page number; the identity search is an equality on an index (the whole birth
name and the birth date, or the INS). Measured in tests/perf/dossiers_bench.py.
"""

import json
import re
from datetime import UTC, datetime, timedelta

from pymongo import UpdateOne

from app import audit, policy
from app.dossiers import schemas
from app.dossiers.identity import INS_INVALID, ins_key_valid
from app.dossiers.models import Dossier
from app.sealing import keyed_digest
from app.structures.models import Structure
from app.text import HIGH, compact, matches_all, prefix_range, tokens
from app.validation import InvalidInput, check

MAX_QUERY = 200
MAX_RESULTS = 20
MAX_CANDIDATES = 200  # rows of one exact match read at most (namesakes born the same day)
SEARCH_FIELDS = ("birth_name", "birth_date", "ins")
SEARCH = {
    "type": "object",
    "properties": {
        "birth_name": {"type": "string", "maxLength": 100},
        "birth_date": schemas.DATE,
        "ins": {"type": "string", "maxLength": 30},
    },
}
SEARCH_HELP = (
    "Saisissez le nom de naissance en entier et la date de naissance, ou le matricule INS : "
    "la recherche ne sert pas à parcourir les dossiers."
)
NAME_NEEDED = "Saisissez le nom de naissance en entier (accents et majuscules indifférents)."
DATE_NEEDED = "Saisissez la date de naissance avec le nom de naissance (ou le matricule INS)."
LIST_FIELDS = (
    "id",
    "identity",
    "status",
    "structure",
    "members",
    "exclusions",
    "consent",
    "referent",
    "search_keys",
    "sort_name",
    "updated_at",
    "created_at",
)
SORTS = {"activity": "updated_at", "created": "created_at", "name": "sort_name"}
# Nothing on the platform is older: the last time window ends there.
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
FIRST_WINDOW = timedelta(days=14)
ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


# --- "Mes dossiers" --------------------------------------------------------------------------


def _time_windows(top):
    """[low, high) windows of time going back from `top`, twice as long each time."""
    span, high = FIRST_WINDOW, top
    while high > EPOCH:
        low = max(EPOCH, high - span)
        yield {"$gte": low, "$lt": high}
        high, span = low, span * 2


def _name_windows(start):
    """[low, high) windows of names going up from `start`, over twice as many letters each
    time; the last one is open to the end of the alphabet and past it."""
    position = ALPHABET.find(start[:1]) if start else 0
    position, span, low = max(position, 0), 1, start
    while True:
        end = position + span
        high = ALPHABET[end] if end < len(ALPHABET) else HIGH
        yield {"$gte": low, "$lt": high}
        if high == HIGH:
            return
        low, position, span = high, end, span * 2


def _cursor(value):
    """ "<sort value>~<id>" -> (value, id); None if absent or garbled."""
    if not value or "~" not in value:
        return None
    text, _, dossier_id = value.rpartition("~")
    return text, dossier_id


def _parse_time(text):
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _scope_filter(actor, scope):
    if scope == "structure":
        coordinated = [m.structure for m in actor.memberships if "coordinator" in m.roles]
        if len(coordinated) == 1:
            return {"structure": coordinated[0]}
        return {"structure": {"$in": coordinated}} if coordinated else None
    return {"member_users": actor.id}


def list_dossiers(actor, query="", scope="mine", sort="activity", after=None, per_page=20):
    """(dossiers, next_cursor): the actor's dossiers — their circles of care ("mine") or the
    ones their structures coordinate ("structure") — that they may open, by last activity,
    creation or name; `after` is the cursor a previous page returned."""
    base = _scope_filter(actor, scope)
    if base is None or len(query) > MAX_QUERY:
        return [], None
    field = SORTS.get(sort, SORTS["activity"])
    wanted = tokens(query)
    if wanted:
        return _named(actor, base, wanted, field, after, per_page)
    cursor = _cursor(after)
    descending = field != "sort_name"
    if descending:
        top = _parse_time(cursor[0]) if cursor else None
        # The cursor's own instant is in the window; rows up to the cursor are skipped below.
        windows = _time_windows((top or datetime.now(UTC)) + timedelta(milliseconds=1))
    else:
        windows = _name_windows(cursor[0] if cursor else "")
    found, counted = [], False
    for window in windows:
        # Light rows (id and sort key) for the window; whole dossiers only for the page.
        rows = Dossier.objects(__raw__={**base, field: window}).only("id", field).as_pymongo()
        keys = sorted(((row[field], row["_id"]) for row in rows), reverse=descending)
        keys = [(v, i) for v, i in keys if _after_cursor(v, i, cursor, descending)]
        found += _visible(actor, [i for _, i in keys], per_page + 1 - len(found))
        if len(found) > per_page:
            break
        if descending and not counted:
            # Once, when the page is not full yet: is there anything left at all? Saves the
            # walk down to EPOCH for a short list (and an empty one). Name windows are few.
            counted = True
            rest = {"$lt": window["$gte"]} if descending else {"$gte": window["$lt"]}
            if not Dossier.objects(__raw__={**base, field: rest}).limit(1).count(True):
                break
    return _page(found, field, per_page)


def _after_cursor(value, dossier_id, cursor, descending):
    """Whether a row comes after the cursor in the list's order."""
    if cursor is None:
        return True
    key = (value.isoformat() if descending else value, str(dossier_id))
    return key != cursor and (key > cursor) != descending


def _visible(actor, ids, wanted):
    """Up to `wanted` dossiers of `ids` (in that order) that `actor` may open, loaded a few
    at a time: building a dossier costs most of a millisecond."""
    shown = []
    for start in range(0, len(ids), max(wanted, 1) * 2):
        if len(shown) >= wanted:
            break
        batch = ids[start : start + max(wanted, 1) * 2]
        loaded = {d.id: d for d in Dossier.objects(id__in=batch).only(*LIST_FIELDS)}
        shown += [
            loaded[i] for i in batch if i in loaded and policy.can(actor, "dossier.view", loaded[i])
        ]
    return shown[:wanted]


def _page(found, field, per_page):
    shown = found[:per_page]
    if len(found) <= per_page:
        return shown, None
    value = shown[-1][field]
    text = value.isoformat() if isinstance(value, datetime) else value
    return shown, f"{text}~{shown[-1].id}"


def _named(actor, base, wanted, field, after, per_page):
    """A name filter within the actor's dossiers: light rows filtered and sorted in memory,
    whole dossiers only for the page."""
    query = {**base, "search_keys": prefix_range(max(wanted, key=len))}
    rows = Dossier.objects(__raw__=query).only("id", "search_keys", field).as_pymongo()
    descending = field != "sort_name"
    keys = sorted(
        ((row[field], row["_id"]) for row in rows if matches_all(row["search_keys"], wanted)),
        reverse=descending,
    )
    cursor = _cursor(after)
    ids = [i for v, i in keys if _after_cursor(v, i, cursor, descending)]
    return _page(_visible(actor, ids, per_page + 1), field, per_page)


# --- the identity search ---------------------------------------------------------------------
# Finding a dossier one is not in needs what a professional who has the person in front of
# them knows: the whole birth name and the birth date, or the INS. Each is one equality on an
# index; it names no more than asking to join needs, and never a dossier one may not join.


def join_summary(dossier, structures):
    """What a search, or the page to ask to join, shows of a dossier one may not be in:
    enough to recognise the person and ask, nothing of their situation."""
    structure = structures.get(dossier.structure)
    identity = dossier.identity
    return {
        "id": str(dossier.id),
        "birth_name": identity.birth_name,
        "first_names": identity.first_names,
        "birth_date": identity.birth_date,
        "structure": structure.name if structure else None,
    }


def minimal_identity(dossier, structures):
    """What a duplicate check shows the coordinator who typed the person's identity: the
    join summary and the used name, through which a candidate may have matched."""
    return {**join_summary(dossier, structures), "used_name": dossier.identity.used_name or None}


def identity_summary(dossier):
    """The dossier's id and the traits that name the person."""
    identity = dossier.identity
    return {
        "id": str(dossier.id),
        "birth_name": identity.birth_name,
        "used_name": identity.used_name or None,
        "first_names": identity.first_names,
        "birth_date": identity.birth_date,
    }


def structures_of(dossiers):
    ids = {d.structure for d in dossiers}
    return {s.id: s for s in Structure.objects(id__in=list(ids)).only("name")} if ids else {}


def search_criteria(data):
    """What a search looks for, from what was typed (birth_name, birth_date, ins): the INS,
    and/or the compacted birth name with the birth date. InvalidInput names each field that
    is wrong or missing; a birth name without its date (or the reverse) is not enough."""
    typed = {name: (data.get(name) or "").strip() for name in SEARCH_FIELDS}
    typed = check(SEARCH, {name: value for name, value in typed.items() if value})
    ins = re.sub(r"\s", "", typed.get("ins", "")).upper()
    birth_key, birth_date = compact(typed.get("birth_name")), typed.get("birth_date")
    problems = {}
    if ins and not ins_key_valid(ins):
        problems["/ins"] = INS_INVALID
    if not ins:
        if not birth_key:
            problems["/birth_name"] = NAME_NEEDED
        if not birth_date:
            problems["/birth_date"] = DATE_NEEDED
    if problems:
        raise InvalidInput(problems, SEARCH_HELP)
    criteria = {"ins": ins} if ins else {}
    if birth_key and birth_date:  # beside an INS, half of the pair is left aside
        criteria.update(birth_key=birth_key, birth_date=birth_date)
    return criteria


def identity_queries(criteria):
    """The queries a search runs: equalities on the (birth_key, birth date) and INS indexes."""
    queries = []
    if "birth_key" in criteria:
        queries.append({"birth_key": criteria["birth_key"],
                        "identity.birth_date": criteria["birth_date"]})  # fmt: skip
    if "ins" in criteria:
        queries.append({"identity.ins": criteria["ins"]})
    return queries


def search_identity(actor, data):
    """Dossiers of the whole platform that match what was typed (see search_criteria), as
    join summaries, each with whether the actor may open it or ask to join it; only those
    they may find (policy: dossier.find). Audited: who searched, how, how many were shown and
    which, and a keyed digest of the traits typed (never the traits)."""
    policy.require(actor, "dossier.search")
    criteria = search_criteria(data)
    matched = {}
    for query in identity_queries(criteria):
        for dossier in Dossier.objects(__raw__=query).only(*LIST_FIELDS).limit(MAX_CANDIDATES):
            matched[dossier.id] = dossier
    found = [d for d in matched.values() if policy.can(actor, "dossier.find", d)]
    found = sorted(found, key=lambda d: (d.sort_name or "", d.identity.birth_date, d.id))
    found = found[:MAX_RESULTS]
    traits = json.dumps(criteria, sort_keys=True)
    audit.record(actor, "dossier.search", object_type="Dossier",
                 by="+".join(sorted({"ins" if k == "ins" else "birth" for k in criteria})),
                 results=len(found), dossiers=[str(d.id) for d in found],
                 traits=keyed_digest(traits, "dossier-search"))  # fmt: skip
    structures = structures_of(found)
    return [
        {
            **join_summary(d, structures),
            "can_view": policy.can(actor, "dossier.view", d),
            "can_join": policy.can(actor, "dossier.request_join", d),
        }
        for d in found
    ]


def reindex(batch=1000):
    """Give the dossiers stored before the identity search read birth keys theirs, and take
    away the name pairs an older search read (an upgrade: run by `parcours install`); returns
    how many were updated."""
    collection, writes, done = Dossier._get_collection(), [], 0
    older = {"$or": [{"birth_key": None}, {"name_pairs": {"$exists": True}}]}
    for row in collection.find(older, {"identity.birth_name": 1}):  # a full scan, once
        birth_key = compact(row.get("identity", {}).get("birth_name"))
        writes.append(UpdateOne({"_id": row["_id"]}, {"$set": {"birth_key": birth_key},
                                                      "$unset": {"name_pairs": ""}}))  # fmt: skip
        if len(writes) == batch:
            done += collection.bulk_write(writes, ordered=False).modified_count
            writes = []
    if writes:
        done += collection.bulk_write(writes, ordered=False).modified_count
    if "name_pairs_1" in collection.index_information():
        collection.drop_index("name_pairs_1")
    return done
