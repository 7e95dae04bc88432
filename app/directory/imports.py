"""Running an RPPS import: from the command line or from the admin page (in the background,
with its progress kept in the database for the page's progress bar), with its report kept
and audited."""

import threading
from pathlib import Path

from flask import current_app
from mongoengine import DateTimeField, DictField, Document, IntField, StringField

from app import audit, policy
from app.clock import utcnow
from app.directory import rpps, search
from app.dossiers.services import object_id
from app.errors import NotFound


class DirectoryImport(Document):
    """One import of an RPPS file: what it found, how far it is, how it ended."""

    filename = StringField(required=True)
    size = IntField()
    status = StringField(choices=["running", "done", "failed"], default="running")
    done = IntField(default=0)  # persons applied so far
    total = IntField(default=0)
    report = DictField()
    error = StringField()
    actor = StringField()
    started_at = DateTimeField(default=utcnow)
    finished_at = DateTimeField()

    meta = {"collection": "directory_imports", "indexes": ["-started_at"]}

    @property
    def percent(self):
        if self.status != "running":
            return 100
        return int(100 * self.done / self.total) if self.total else 0


def run(actor, path, filename=None, record=None, on_progress=None):
    """Import the file at `path`; returns the DirectoryImport, done or failed."""
    policy.require(actor, "directory.import")
    path = Path(path)
    record = (
        record
        or DirectoryImport(
            filename=filename or path.name, size=path.stat().st_size, actor=audit.actor_id(actor)
        ).save()
    )

    def progress(done, total):
        DirectoryImport.objects(id=record.id).update_one(set__done=done, set__total=total)
        if on_progress:
            on_progress(done, total)

    try:
        report = rpps.import_file(lambda: path.open("rb"), progress)
    except rpps.ImportFailed as failure:
        record.update(set__status="failed", set__error=failure.message, set__finished_at=utcnow())
        audit.record(actor, "directory.import", record, status="failed", error=failure.message)
    else:
        record.update(set__status="done", set__report=report.as_dict(), set__finished_at=utcnow())
        search.remember_specialties(report.specialties)
        audit.record(actor, "directory.import", record, status="done",
                     **{k: v for k, v in report.as_dict().items() if k != "rejected"})  # fmt: skip
    record.reload()
    return record


def start_in_background(actor, path, filename):
    """Start an import of an uploaded file in a thread of this process; returns its record
    (the page follows its progress). The file is removed once imported."""
    policy.require(actor, "directory.import")
    record = DirectoryImport(
        filename=filename, size=Path(path).stat().st_size, actor=audit.actor_id(actor)
    ).save()
    app = current_app._get_current_object()

    def work():
        with app.app_context():
            try:
                run(actor, path, filename, record)
            finally:
                Path(path).unlink(missing_ok=True)

    threading.Thread(target=work, name=f"rpps-import-{record.id}", daemon=True).start()
    return record


def get(actor, import_id):
    policy.require(actor, "directory.import")
    oid = object_id(import_id)
    found = DirectoryImport.objects(id=oid).first() if oid else None
    if found is None:
        raise NotFound("Cet import n'existe pas.")
    return found


def recent(actor, limit=10):
    policy.require(actor, "directory.import")
    return list(DirectoryImport.objects.order_by("-started_at").limit(limit))
