"""How many open tasks each structure and each assignee has, per pathway and per week of due
date.

"Suivi" lists every open task of a structure, overdue first; a large structure has tens of
thousands, and a busy professional's "Mes tâches" may hold over a thousand. The embedded
database reads every document a query matches before it sorts or limits (README, "Queries"),
so a list cannot ask for "the first 30 by due date": it reads a bounded range of due dates
that holds the page, and these tallies say where that range is and how many tasks there are
in all, in a few small documents. Their owner is "s:<structure>" or "u:<assignee>".

They are hints, kept exact by the writes below and recounted every night by the worker (and
by `parcours install`): the list reads due-date ranges that touch each other from the first
to the last, so a task the tallies missed is still listed, and only a total or a page
boundary can be off until the next recount.
"""

from collections import Counter
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from mongoengine import DateTimeField, Document, IntField, StringField

from app.clock import utcnow
from app.db import database

WEEK = timedelta(days=7)
# The end of the last range: after NEVER_DUE (the tasks without a due date).
END = datetime.max.replace(tzinfo=UTC)
RECOUNT_EVERY = timedelta(days=1)


class TaskTally(Document):
    id = StringField(primary_key=True)  # "<owner>:<pathway>:<week>": written by _id
    owner = StringField(required=True)  # "s:<structure id>" or "u:<assignee id>"
    pathway = StringField(default="")
    week = DateTimeField(required=True)  # Monday 00:00 UTC of the tasks' due_sort
    open = IntField(default=0)

    meta = {"collection": "task_tallies", "indexes": [("owner", "pathway", "week")]}


def structure_owner(structure_id):
    return f"s:{structure_id}"


def user_owner(user_id):
    return f"u:{user_id}"


def _owners(task):
    """Whose lists a task is in: its structure's "Suivi", its assignee's "Mes tâches"."""
    found = [structure_owner(task.structure)] if task.structure else []
    return found + ([user_owner(task.assignee)] if getattr(task, "assignee", None) else [])


def week_of(moment):
    """The Monday 00:00 UTC of the week of `moment`."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    day = moment.astimezone(UTC).date()
    return datetime.combine(day - timedelta(days=day.weekday()), datetime.min.time(), UTC)


def week_end(week):
    return week + WEEK if week < END - WEEK else END


def _key(owner, pathway, due_sort):
    return owner, pathway or "", week_of(due_sort)


def _add(counts):
    collection = TaskTally._get_collection()
    for (owner, pathway, week), by in counts.items():
        if by:
            collection.update_one(
                {"_id": f"{owner}:{pathway}:{week.date().isoformat()}"},
                {"$inc": {"open": by},
                 "$setOnInsert": {"owner": owner, "pathway": pathway, "week": week}},
                upsert=True,
            )  # fmt: skip


def _counts(tasks, by=1):
    counts = Counter()
    for task in tasks:
        for owner in _owners(task):
            counts[_key(owner, task.pathway, task.due_sort)] += by
    return counts


def opened(tasks):
    """Count these tasks, just created open."""
    _add(_counts(tasks))


def closed(tasks):
    """Stop counting these tasks, open until now (completed, cancelled, suspended)."""
    _add(_counts(tasks, -1))


def moved(task, before, after):
    """The task went from assignee `before` to `after` (either may be None)."""
    changes = Counter()
    if before:
        changes[_key(user_owner(before), task.pathway, task.due_sort)] -= 1
    if after:
        changes[_key(user_owner(after), task.pathway, task.due_sort)] += 1
    _add(changes)


def _by_owners(owners):
    return {"owner": {"$in": list(owners)}} if len(owners) != 1 else {"owner": owners[0]}


def weeks(owners, pathway=None):
    """{week: open tasks} of `owners` (of one pathway, or of all), weeks ascending."""
    query = _by_owners(owners)
    counts = Counter()
    for row in TaskTally._get_collection().find(query, {"pathway": 1, "week": 1, "open": 1}):
        if pathway is None or row.get("pathway") == pathway:
            week = row["week"].replace(tzinfo=UTC)
            counts[week] += row.get("open", 0)
    return dict(sorted((week, n) for week, n in counts.items() if n > 0))


def pathways(owners):
    """The keys of the pathways with open tasks of `owners`."""
    rows = TaskTally._get_collection().find(_by_owners(owners), {"pathway": 1, "open": 1})
    return {row["pathway"] for row in rows if row.get("open", 0) > 0 and row.get("pathway")}


def recount():
    """Count again from the tasks themselves; returns how many tallies changed."""
    from app.pathways.models import Task

    counts = Counter()
    fields = {"_id": 0, "structure": 1, "assignee": 1, "pathway": 1, "due_sort": 1}
    for row in Task._get_collection().find({"status": "open"}, fields):
        if row.get("due_sort"):
            task = SimpleNamespace(**{k: row.get(k) for k in ("structure", "assignee")})
            for owner in _owners(task):
                counts[_key(owner, row.get("pathway"), row["due_sort"])] += 1
    collection = TaskTally._get_collection()
    fields = {"owner": 1, "pathway": 1, "week": 1, "open": 1}
    kept = {
        (row["owner"], row.get("pathway", ""), row["week"].replace(tzinfo=UTC)): row.get("open", 0)
        for row in collection.find({}, fields)
        if row.get("owner")
    }
    collection.delete_many({"owner": None})  # written before tallies had owners
    changes = {key: counts.get(key, 0) - kept.get(key, 0) for key in counts.keys() | kept.keys()}
    changes = {key: by for key, by in changes.items() if by}
    _add(changes)
    return len(changes)


def recount_if_due(now=None):
    """The worker's nightly recount: done by one worker once a day; the number of tallies
    changed, or None if it was not due."""
    now = now or utcnow()
    marks = database()["maintenance"]
    mark = marks.find_one({"_id": "task_tallies"}) or {}
    last = mark.get("at")
    if last is not None and now - last.replace(tzinfo=UTC) < RECOUNT_EVERY:
        return None
    if last is None:
        taken = marks.update_one({"_id": "task_tallies"}, {"$setOnInsert": {"at": now}},
                                 upsert=True).upserted_id is not None  # fmt: skip
    else:
        taken = marks.update_one({"_id": "task_tallies", "at": last}, {"$set": {"at": now}})
        taken = taken.modified_count == 1
    return recount() if taken else None
