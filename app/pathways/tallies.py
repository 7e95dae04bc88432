"""How many open tasks each structure has, per pathway and per week of due date.

"Suivi" lists every open task of a structure, overdue first; a large structure has tens of
thousands. The embedded database reads every document a query matches before it sorts or
limits (README, "Queries"), so the list cannot ask for "the first 30 by due date": it reads
a bounded range of due dates that holds the page, and these tallies say where that range
is and how many tasks there are in all, in a few small documents.

They are hints, kept exact by the writes below and recounted every night by the worker (and
by `parcours install`): the list reads due-date ranges that touch each other from the first
to the last, so a task the tallies missed is still listed, and only a total or a page
boundary can be off until the next recount.
"""

from collections import Counter
from datetime import UTC, datetime, timedelta

from mongoengine import DateTimeField, Document, IntField, ObjectIdField, StringField

from app.clock import utcnow
from app.db import database

WEEK = timedelta(days=7)
# The end of the last range: after NEVER_DUE (the tasks without a due date).
END = datetime.max.replace(tzinfo=UTC)
RECOUNT_EVERY = timedelta(days=1)


class TaskTally(Document):
    id = StringField(primary_key=True)  # "<structure>:<pathway>:<week>": written by _id
    structure = ObjectIdField(required=True)
    pathway = StringField(default="")
    week = DateTimeField(required=True)  # Monday 00:00 UTC of the tasks' due_sort
    open = IntField(default=0)

    meta = {"collection": "task_tallies", "indexes": [("structure", "pathway", "week")]}


def week_of(moment):
    """The Monday 00:00 UTC of the week of `moment`."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    day = moment.astimezone(UTC).date()
    return datetime.combine(day - timedelta(days=day.weekday()), datetime.min.time(), UTC)


def week_end(week):
    return week + WEEK if week < END - WEEK else END


def _key(structure, pathway, due_sort):
    return structure, pathway or "", week_of(due_sort)


def _add(counts):
    collection = TaskTally._get_collection()
    for (structure, pathway, week), by in counts.items():
        if by:
            collection.update_one(
                {"_id": f"{structure}:{pathway}:{week.date().isoformat()}"},
                {"$inc": {"open": by},
                 "$setOnInsert": {"structure": structure, "pathway": pathway, "week": week}},
                upsert=True,
            )  # fmt: skip


def opened(tasks):
    """Count these tasks, just created open."""
    _add(Counter(_key(t.structure, t.pathway, t.due_sort) for t in tasks if t.structure))


def closed(tasks):
    """Stop counting these tasks, open until now (completed, cancelled, suspended)."""
    counts = Counter(_key(t.structure, t.pathway, t.due_sort) for t in tasks if t.structure)
    _add({key: -by for key, by in counts.items()})


def weeks(structures, pathway=None):
    """{week: open tasks} of `structures` (of one pathway, or of all), weeks ascending."""
    query = {"structure": {"$in": list(structures)}} if len(structures) != 1 else {
        "structure": structures[0]
    }  # fmt: skip
    counts = Counter()
    for row in TaskTally._get_collection().find(query, {"pathway": 1, "week": 1, "open": 1}):
        if pathway is None or row.get("pathway") == pathway:
            week = row["week"].replace(tzinfo=UTC)
            counts[week] += row.get("open", 0)
    return dict(sorted((week, n) for week, n in counts.items() if n > 0))


def pathways(structures):
    """The keys of the pathways with open tasks in `structures`."""
    rows = TaskTally._get_collection().find({"structure": {"$in": list(structures)}},
                                            {"pathway": 1, "open": 1})  # fmt: skip
    return {row["pathway"] for row in rows if row.get("open", 0) > 0 and row.get("pathway")}


def recount():
    """Count again from the tasks themselves; returns how many tallies changed."""
    from app.pathways.models import Task

    counts = Counter()
    for row in Task._get_collection().find(
        {"status": "open"}, {"_id": 0, "structure": 1, "pathway": 1, "due_sort": 1}
    ):
        if row.get("structure") and row.get("due_sort"):
            counts[_key(row["structure"], row.get("pathway"), row["due_sort"])] += 1
    kept = {
        (row["structure"], row.get("pathway", ""), row["week"].replace(tzinfo=UTC)): row.get(
            "open", 0
        )
        for row in TaskTally._get_collection().find({}, {"structure": 1, "pathway": 1, "week": 1,
                                                         "open": 1})
    }  # fmt: skip
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
