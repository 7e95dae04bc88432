"""The MongoDB connection, through MongoEngine."""

import mongoengine
from pymongo.errors import PyMongoError
from pymongo.uri_parser import parse_uri

from app import embedded

DEFAULT_DB = "parcours"


def init_app(app):
    uri = app.config["MONGODB_URI"]
    if not uri:
        uri = embedded.ensure_server(app.config["PARCOURS_DATA_DIR"])
        app.config["EMBEDDED_DATABASE"] = True
    connect(uri)


def connect(uri):
    """(Re)bind MongoEngine's default alias to `uri`; its path names the database."""
    name = parse_uri(uri).get("database") or DEFAULT_DB
    mongoengine.disconnect()
    mongoengine.connect(
        db=name,
        host=uri,
        tz_aware=True,
        uuidRepresentation="standard",
        serverSelectionTimeoutMS=5000,
    )


def database():
    return mongoengine.get_db()


def ping():
    try:
        database().command("ping")
        return True
    except PyMongoError:
        return False


def is_empty():
    return not any(not name.startswith("system.") for name in database().list_collection_names())
