"""The MongoDB connection, through MongoEngine."""

import threading
import time
from collections import OrderedDict

import mongoengine
from bson import ObjectId
from bson.errors import InvalidId
from mongoengine.errors import NotUniqueError
from pymongo import monitoring
from pymongo.errors import PyMongoError
from pymongo.uri_parser import parse_uri

from app import embedded
from app.clock import utcnow

DEFAULT_DB = "parcours"
SELECTION_TIMEOUT_MS = 2000


def object_id(value):
    """`value` as an ObjectId, or None when it cannot be one (a hostile or garbled id)."""
    try:
        return ObjectId(str(value))
    except (InvalidId, TypeError):
        return None


def init_app(app):
    uri = app.config["MONGODB_URI"]
    if not uri:
        uri = ensure_embedded(app.config)
        app.config["EMBEDDED_DATABASE"] = True
    app.config["DATABASE_URI"] = uri
    app.config["DATABASE_NAME"] = database_name(uri)
    connect(uri)


def ensure_embedded(config):
    """The URI of the embedded server of `config`'s data dir, started if none runs."""
    cache = config.get("EMBEDDED_CACHE_SIZE")
    options = ("--cache-size", cache) if cache else ()
    return embedded.ensure_server(config["PARCOURS_DATA_DIR"], options)


def database_name(uri):
    return parse_uri(uri).get("database") or DEFAULT_DB


def connect(uri):
    """(Re)bind MongoEngine's default alias to `uri`; its path names the database."""
    name = database_name(uri)
    mongoengine.disconnect()
    mongoengine.connect(
        db=name,
        host=uri,
        tz_aware=True,
        uuidRepresentation="standard",
        # While the database is away, a request waits this long, then answers 503 (app.errors).
        serverSelectionTimeoutMS=SELECTION_TIMEOUT_MS,
    )


def save_unique(document, conflict, *, insert):
    """Save `document`; a duplicate on a unique index raises `conflict` instead.

    The unique index is the one guard against duplicates (two requests can pass any check
    made before): services let it refuse, and nothing has been written when it does.
    """
    try:
        document.save(force_insert=insert)
    except NotUniqueError:
        raise conflict from None


def database():
    return mongoengine.get_db()


# --- atomic changes without findAndModify ------------------------------------------------------
#
# SecantusDB answers findAndModify (find_one_and_update, QuerySet.modify) by reading the whole
# collection, whatever the filter and its indexes (measured again without retryable writes:
# README, "Queries on the embedded database"). Counters and leases go through these two helpers
# instead: indexed reads and conditional updates, the same on a real MongoDB.


def increment(collection, doc_id, field, by=1, also=None, attempts=100):
    """Add `by` to `field` of the document `doc_id` and return the new value, atomically: the
    value is read, then set only if still the same (compare-and-set), again if someone moved
    it meanwhile. `also`: more $set fields. None if there is no such document."""
    for _ in range(attempts):
        found = collection.find_one({"_id": doc_id}, {field: 1})
        if found is None:
            return None
        value = found.get(field)
        new = (value or 0) + by
        changed = collection.update_one(
            {"_id": doc_id, field: value}, {"$set": {field: new, **(also or {})}}
        )
        if changed.modified_count:
            return new
    raise RuntimeError(f"{collection.name}.{field} of {doc_id}: too much contention")


def lease_one(collection, queries, sort_field, owner, until, now, candidates=20):
    """The document due first among `queries` (indexed equality and range queries, one per
    status: $in and $or would read far more) that nobody holds (no lease, or an expired one),
    now leased to `owner` until `until`; None if there is none free."""
    for row, query in _candidates(collection, queries, sort_field, candidates):
        taken = _take(collection, query, row, owner, until, now)
        if taken is not None:
            return taken
    return None


def _candidates(collection, queries, sort_field, limit):
    """(row, the query that found it) of the first documents of `queries` in the order
    (`sort_field`, _id), read `limit` at most per query (ids, leases and sort keys only), with
    none missing before the last one given."""

    def order(row):
        return row[sort_field], row["_id"]

    found, cut = [], None
    for query in queries:
        fields = {"_id": 1, "lease_until": 1, sort_field: 1}
        rows = list(collection.find(query, fields, sort=[(sort_field, 1), ("_id", 1)],
                                    limit=limit))  # fmt: skip
        found += [(row, query) for row in rows]
        if len(rows) == limit:  # what comes after its last row was not read: stop there
            cut = order(rows[-1]) if cut is None else min(cut, order(rows[-1]))
    found.sort(key=lambda pair: order(pair[0]))
    return [pair for pair in found if cut is None or order(pair[0]) <= cut]


def _take(collection, query, row, owner, until, now):
    """`row`'s document, now leased to `owner`, if nobody holds it and it still matches
    `query`; else None. The take is a compare-and-set on the lease *and* on the query: between
    the read and the take another worker may have leased, done and released it (its lease is
    unset again, its status is "sent"), and a take on the lease alone would do it again."""
    held = row.get("lease_until")
    if held is not None and held >= now:
        return None
    taken = collection.update_one(
        {**query, "_id": row["_id"], "lease_until": held},
        {"$set": {"lease_owner": owner, "lease_until": until}},
    )
    return collection.find_one({"_id": row["_id"]}) if taken.modified_count else None


def after(queries, sort_field, last):
    """`queries` restricted to the documents that come after `last` (a document taken before,
    in the order (`sort_field`, _id)): a worker's round goes through a queue once, on the
    index, even when a document it took stays due (a step that was busy, a lease lost)."""
    if last is None:
        return queries
    value, last_id = last[sort_field], last["_id"]
    split = []
    for query in queries:
        bound = {**query.get(sort_field, {}), "$gt": value}
        split += [{**query, sort_field: value, "_id": {"$gt": last_id}},
                  {**query, sort_field: bound}]  # fmt: skip
    return split


def leased_due(document, now, owner, lease, seconds=None, batch=100):
    """Each document of a queue (status "pending", `next_attempt_at` at or before `now`), in
    due order, leased to `owner` as it comes and at most once: a round of a worker. The
    candidates are read `batch` at a time (the embedded server reads every due document at
    each read, whatever the limit). With `seconds`, the round stops taking new documents after
    that long (the queue's share of the round, so that timers never wait behind a long queue);
    what is left is due at the next round."""
    collection, key = document._get_collection(), "next_attempt_at"
    query = {"status": "pending", key: {"$lte": now}}
    started, last = time.monotonic(), None
    while rows := _candidates(collection, after([query], key, last), key, batch):
        for row, found_by in rows:
            if seconds is not None and time.monotonic() - started >= seconds:
                return
            last = {key: row[key], "_id": row["_id"]}
            moment = utcnow()
            taken = _take(collection, found_by, row, owner, moment + lease, moment)
            if taken is not None:
                yield document._from_son(taken)


def release(document, held, owner, **change):
    """Write what became of `held` (a leased document) if `owner` still holds it, and let it
    go; the update's result says whether it was still held."""
    return document.objects(id=held.id, lease_owner=owner).update_one(
        unset__lease_owner=True, unset__lease_until=True, **change
    )


class ImmutableCache:
    """Documents that never change once written (a published form version, a deployed pathway
    version), kept in memory by key and database: reading one again costs no round trip."""

    def __init__(self, size=256):
        self.size, self._items, self._lock = size, OrderedDict(), threading.Lock()

    def get(self, key, load):
        """The document under `key`, from memory or `load()` (not kept when None)."""
        key = (database().name, *key)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        found = load()
        if found is not None:
            with self._lock:
                self._items[key] = found
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        return found


def ping():
    try:
        database().command("ping")
        return True
    except PyMongoError:
        return False


def is_empty():
    return not any(not name.startswith("system.") for name in database().list_collection_names())


class CommandCounter(monitoring.CommandListener):
    """Counts the commands sent to MongoDB (round trips), for tests and benchmarks.

    Register it once with `pymongo.monitoring.register` before clients are created.
    """

    def __init__(self):
        self.count = 0
        self.names = []
        self.targets = []  # "find users", "insert audit_events"…: what each round trip was

    def reset(self):
        self.count, self.names, self.targets = 0, [], []

    def started(self, event):
        self.count += 1
        self.names.append(event.command_name)
        self.targets.append(f"{event.command_name} {event.command.get(event.command_name)}")

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass
