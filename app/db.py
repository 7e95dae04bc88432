"""The MongoDB connection, through MongoEngine."""

import threading
from collections import OrderedDict

import mongoengine
from mongoengine.errors import NotUniqueError
from pymongo import monitoring
from pymongo.errors import PyMongoError
from pymongo.uri_parser import parse_uri

from app import embedded

DEFAULT_DB = "parcours"


def init_app(app):
    uri = app.config["MONGODB_URI"]
    if not uri:
        uri = embedded.ensure_server(app.config["PARCOURS_DATA_DIR"])
        app.config["EMBEDDED_DATABASE"] = True
    app.config["DATABASE_URI"] = uri
    app.config["DATABASE_NAME"] = database_name(uri)
    connect(uri)


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
        serverSelectionTimeoutMS=5000,
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
