"""Finding dossiers: "Mes dossiers" (the caller's, sorted, paged) and the identity search.

The embedded database reads every match of a query before it sorts or limits (DESIGN.md §7),
and building a MongoEngine dossier costs most of a millisecond. So no query here reads more
than a window of rows: "Mes dossiers" walks bounded windows of its sort key (time or name)
on an index, doubling them until a page is full, and pages with a cursor (the last row's key)
instead of a page number; the identity search asks for a pair of name prefixes that is
indexed, not for one common word. Measured in tests/perf/dossiers_bench.py.
"""

from datetime import UTC, datetime, timedelta

from app import policy
from app.dossiers import schemas
from app.dossiers.models import Dossier
from app.structures.models import Structure
from app.text import HIGH, matches_all, pair, prefix_range, tokens
from app.validation import InvalidInput, check

MAX_QUERY = 200
MAX_RESULTS = 20
MAX_CANDIDATES = 2000
SEARCH_HELP = (
    "Saisissez au moins le nom et le prénom, ou le nom et la date de naissance : la recherche "
    "ne sert pas à parcourir les dossiers."
)
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


def _query_pair(wanted):
    """The name pair the two longest words typed stand for (see text.name_pairs)."""
    first, second = sorted(wanted, key=len, reverse=True)[:2]
    return pair(first[:3], second[:3])


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


def minimal_identity(dossier, structures):
    """What a duplicate or a search shows of a dossier one is not in: enough to recognise the
    person, nothing of their situation."""
    structure = structures.get(dossier.structure)
    return {**identity_summary(dossier), "structure": structure.name if structure else None}


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


def search_identity(actor, query, birth_date=None):
    """Dossiers of the whole platform matching identity traits, as minimal identities, each
    with whether the actor may open it. Needs two traits: this is not a way to browse."""
    policy.require(actor, "dossier.search")
    wanted = [t for t in tokens(query[:MAX_QUERY]) if len(t) >= 2]
    if not wanted or (len(wanted) < 2 and not birth_date):
        raise InvalidInput({"/q": SEARCH_HELP}, SEARCH_HELP)
    if birth_date:
        check(schemas.DATE, birth_date)
        raw = {"identity.birth_date": birth_date}
    else:
        raw = {"name_pairs": _query_pair(wanted)}
    # Light rows, filtered and sorted; then only the first ones as dossiers (a refused
    # professional's are dropped below, hence a few more than shown).
    light = ("id", "search_keys", "sort_name", "identity.birth_date")
    rows = Dossier.objects(__raw__=raw).only(*light).limit(MAX_CANDIDATES).as_pymongo()
    keys = sorted(
        (row.get("sort_name", ""), row["identity"]["birth_date"], row["_id"])
        for row in rows
        if matches_all(row["search_keys"], wanted)
    )
    ids = [i for *_, i in keys[: MAX_RESULTS * 2]]
    matched = list(Dossier.objects(id__in=ids).only(*LIST_FIELDS)) if ids else []
    matched.sort(key=lambda d: (d.sort_name, d.identity.birth_date, d.id))
    # A professional the patient refused does not even find the dossier.
    matched = [d for d in matched if not policy.is_excluded(actor, d)][:MAX_RESULTS]
    structures = structures_of(matched)
    return [
        {
            **minimal_identity(d, structures),
            "can_view": policy.can(actor, "dossier.view", d),
            "can_join": policy.can(actor, "dossier.request_join", d),
        }
        for d in matched
    ]
