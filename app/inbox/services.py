"""The work inbox: my tasks, the tasks I may take, and for coordinators "Suivi" (every open
task of the dossiers their structures coordinate), with filters, sort and counters.

Each scope is one indexed query in due order ("overdue first": `due_sort` puts tasks without
a due date last). The page's dossiers are read in one query, for their names and for the
policy, which has the last word on every task listed.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask import g

from app import policy, signals
from app.accounts.models import User
from app.clock import PARIS, utcnow
from app.dossiers.listing import EPOCH
from app.dossiers.models import Dossier
from app.dossiers.services import object_id
from app.errors import Conflict, Forbidden, NotFound
from app.notifications import services as notifications
from app.pathways import instances, tallies
from app.pathways.models import Pathway, Task
from app.structures.services import cached_structure
from app.validation import InvalidInput

SCOPES = {"mine": "Mes tâches", "available": "À prendre", "followed": "Suivi"}
SORTS = {
    "due": ("due_sort", "_id"),  # overdue first, then the nearest due date
    "recent": ("-_id",),
    "oldest": ("_id",),
}
MAX_BULK = 50
COUNTS_KEPT_FOR = timedelta(minutes=1)
MAX_CHOICES = 100  # dossiers in the filter's list
DONE_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class Filters:
    dossier: str = ""
    pathway: str = ""
    due_before: str = ""  # "YYYY-MM-DD": due on that day or before
    overdue: bool = False
    done: bool = False  # the tasks completed in the last DONE_WINDOW instead of the open ones
    sort: str = "due"

    @classmethod
    def from_args(cls, args):
        """From a query string; what is not understood is refused field by field."""
        errors = {}
        due_before = (args.get("due_before") or "").strip()
        if due_before:
            try:
                date.fromisoformat(due_before)
            except ValueError:
                errors["/due_before"] = "Date attendue au format AAAA-MM-JJ."
        sort = args.get("sort") or "due"
        if sort not in SORTS:
            errors["/sort"] = f"Tri inconnu : choisissez parmi {', '.join(SORTS)}."
        dossier = (args.get("dossier") or "").strip()
        if dossier and object_id(dossier) is None:
            errors["/dossier"] = "Identifiant de dossier invalide."
        if errors:
            raise InvalidInput(errors)
        return cls(
            dossier=dossier,
            pathway=(args.get("pathway") or "").strip()[:100],
            due_before=due_before,
            overdue=(args.get("overdue") or "") in ("1", "true", "on"),
            done=(args.get("done") or "") in ("1", "true", "on"),
            sort=sort,
        )


@dataclass
class Page:
    items: list  # (task, dossier or None, assignee name or None)
    total: int
    page: int
    per_page: int

    @property
    def has_next(self):
        return self.page * self.per_page < self.total


def coordinated_structures(actor):
    """The active structures where `actor` is a coordinator: whose tasks "Suivi" lists."""
    return [
        m.structure
        for m in actor.memberships
        if "coordinator" in m.roles and getattr(cached_structure(m.structure), "active", False)
    ]


def follows(actor):
    return bool(coordinated_structures(actor))


def refused_dossiers(actor):
    """The dossiers whose patient refused `actor` (or a directory entry standing for them):
    their tasks are left out of every list and count (the policy would hide them anyway;
    leaving them out of the query keeps totals, counters and filter lists exact)."""
    if "refused_dossiers" not in g:
        refused = set(Dossier.objects(exclusions__user=actor.id).scalar("id"))
        if professionals := list(policy.professional_ids(actor)):
            refused |= set(Dossier.objects(exclusions__professional__in=professionals).scalar("id"))
        g.refused_dossiers = list(refused)
    return g.refused_dossiers


def _scope_queries(actor, scope, done=False):
    """The scope's open tasks (with `done`, those completed by me or in the dossiers I follow;
    nothing is "done" in the tasks to take) as raw queries that each name only the fields of
    one index, in its order: the embedded database scans the whole collection for a query
    with a field outside the index it would use, a `$in` reads all of its first field, and
    an `$or` scans (README, "Queries"). One query per structure; the rest is filtered here."""
    if scope == "mine":
        if done:
            return [{"completed_by": actor.id, "status": "completed"}]
        return [{"assignee": actor.id, "status": "open"}]
    if scope == "available":
        queries = [
            {"candidates_structure": m.structure, "status": "open", "assignee": None,
             "candidate_professions": actor.profession}
            for m in actor.memberships
        ]  # fmt: skip
        if actor.platform_admin:  # and the platform team's steps
            queries.append({"platform": 1, "status": "open", "assignee": None})
        return queries
    if scope == "followed":
        status = "completed" if done else "open"
        return [{"structure": s, "status": status} for s in coordinated_structures(actor)]
    raise InvalidInput({"/scope": f"Liste inconnue : choisissez parmi {', '.join(SCOPES)}."})


# The fields a list reads of each task before it chooses its page (the page's tasks are then
# read whole, by id).
ROW_FIELDS = {"_id": 1, "dossier": 1, "pathway": 1, "due_sort": 1, "completed_at": 1}


def _due_limit(filters):
    """The due date before which the filters keep open tasks; None for all."""
    limits = []
    if filters.overdue:
        limits.append(utcnow())
    if filters.due_before:
        day = date.fromisoformat(filters.due_before) + timedelta(days=1)
        limits.append(datetime.combine(day, time(), PARIS))
    return min(limits) if limits else None


def _keep(actor, filters):
    """The test a light row must pass: not a refused dossier's, and the filters'."""
    refused = set(refused_dossiers(actor))
    wanted_dossier = object_id(filters.dossier) if filters.dossier else None
    return lambda row: (
        not (
            row.get("dossier") in refused
            or (wanted_dossier and row.get("dossier") != wanted_dossier)
            or (filters.pathway and row.get("pathway") != filters.pathway)
        )
    )


def _rows(actor, scope, filters, done=False):
    """Light rows of the scope's tasks that pass the filters, unsorted."""
    time_field = "completed_at" if done else "due_sort"
    bounds = {"$gte": utcnow() - DONE_WINDOW} if done else {}
    if not done and (limit := _due_limit(filters)):
        bounds["$lt"] = limit
    keep, rows = _keep(actor, filters), {}
    for query in _scope_queries(actor, scope, done):
        if bounds:
            query = {**query, time_field: bounds}
        for row in Task._get_collection().find(query, ROW_FIELDS):
            if keep(row):
                rows[row["_id"]] = row
    return list(rows.values())


# --- long lists in due order: due-date ranges ------------------------------------------------


@dataclass
class _Range:
    """[low, high) of due dates, with how many of the list's tasks it holds (None: unknown
    until read)."""

    low: datetime
    high: datetime
    count: int | None


def _tally_owners(actor, scope):
    """Whose tallies count the scope's open tasks (app/pathways/tallies.py)."""
    if scope == "mine":
        return [tallies.user_owner(actor.id)]
    if scope == "followed":
        return [tallies.structure_owner(s) for s in coordinated_structures(actor)]
    return []


def _ranges(actor, scope, filters):
    """Ranges of due dates that touch each other from the first to the last and hold all of
    the scope's open tasks, each with its count, from the tallies; None when there are none
    (never counted: the whole list is read instead)."""
    owners = _tally_owners(actor, scope)
    weeks = tallies.weeks(owners, filters.pathway or None) if owners else {}
    if not weeks:
        return None
    limit, ranges, low = _due_limit(filters), [], EPOCH
    for week, count in weeks.items():
        if limit is not None and week >= limit:
            break
        high = tallies.week_end(week)
        if limit is not None and high > limit:  # the week the limit cuts: counted by reading
            high, count = limit, None
        ranges.append(_Range(low, high, count))
        low = high
    if ranges:
        ranges[-1].high = limit or tallies.END  # a task the tallies missed is still read
    _discount_refused(actor, scope, filters, ranges)
    return ranges


def _discount_refused(actor, scope, filters, ranges):
    """The tasks of refused dossiers are left out of the list: out of the counts too."""
    refused = refused_dossiers(actor)
    if not refused:
        return
    structures = coordinated_structures(actor) if scope == "followed" else []
    fields = ROW_FIELDS | {"structure": 1, "assignee": 1}
    for row in Task._get_collection().find({"dossier": {"$in": refused}, "status": "open"},
                                           fields):  # fmt: skip
        mine = row.get("assignee") == actor.id if scope == "mine" else False
        if not (mine or row.get("structure") in structures):
            continue
        if filters.pathway and row.get("pathway") != filters.pathway:
            continue
        for each in ranges:
            if each.count and each.low <= _aware(row["due_sort"]) < each.high:
                each.count -= 1


def _aware(moment):
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _read_ranges(actor, scope, filters, first, last):
    """The light rows of the scope due in [first.low, last.high), sorted."""
    keep, rows = _keep(actor, filters), {}
    bounds = {"$gte": first.low, "$lt": last.high}
    for query in _scope_queries(actor, scope):
        for row in Task._get_collection().find({**query, "due_sort": bounds}, ROW_FIELDS):
            if keep(row):
                rows[row["_id"]] = row
    return sorted(rows.values(), key=ORDER_KEYS["due"][0])


def windowed_total(actor, scope, filters):
    """How many open tasks the scope lists with these filters (due order, no dossier)."""
    found = _windowed_page(actor, scope, filters, page=1, per_page=0)
    return found[1] if found else len(_rows(actor, scope, filters))


def _windowed_page(actor, scope, filters, page, per_page):
    """(the page's light rows, total) of the scope's open tasks in due order, reading only
    the ranges of due dates that hold the page; None when the tallies cannot say where."""
    ranges = _ranges(actor, scope, filters)
    if ranges is None:
        return None
    for each in ranges:
        if each.count is None:
            each.count = len(_read_ranges(actor, scope, filters, each, each))
    total, offset = sum(each.count for each in ranges), (page - 1) * per_page
    if per_page <= 0:
        return [], total
    before, start = 0, 0
    while start < len(ranges) and before + ranges[start].count <= offset:
        before += ranges[start].count
        start += 1
    if start == len(ranges):
        return [], total
    wanted, end, held = offset - before + per_page, start, ranges[start].count
    while end + 1 < len(ranges) and held < wanted:
        end += 1
        held += ranges[end].count
    rows = _read_ranges(actor, scope, filters, ranges[start], ranges[end])
    return rows[offset - before : offset - before + per_page], total


ORDER_KEYS = {
    "due": (lambda row: (row.get("due_sort"), row["_id"]), False),
    "recent": (lambda row: row["_id"], True),
    "oldest": (lambda row: row["_id"], False),
    "done": (lambda row: (row.get("completed_at"), row["_id"]), True),
}


def tasks(actor, scope="mine", filters=Filters(), page=1, per_page=50):
    """A page of the scope's tasks that `actor` may see: (task, its dossier, the name of who
    has it or did it). The light rows of the scope are filtered and sorted here, and only
    the page's tasks read whole."""
    done = filters.done and scope != "available"
    windowed = scope != "available" and not done and filters.sort == "due" and not filters.dossier
    found = _windowed_page(actor, scope, filters, page, per_page) if windowed else None
    if found is None:
        rows = _rows(actor, scope, filters, done)
        key, reverse = ORDER_KEYS["done" if done else filters.sort]
        rows.sort(key=key, reverse=reverse)
        found = rows[(page - 1) * per_page : page * per_page], len(rows)
    page_rows, total = found
    ids = [row["_id"] for row in page_rows]
    loaded = {task.id: task for task in Task.objects(id__in=ids)} if ids else {}
    chosen = [loaded[i] for i in ids if i in loaded]
    dossiers = {d.id: d for d in Dossier.objects(id__in={t.dossier for t in chosen if t.dossier})}
    people = {t.completed_by if done else t.assignee for t in chosen} - {None, actor.id}
    names = dict(User.objects(id__in=list(people)).scalar("id", "name")) if people else {}
    names[actor.id] = "vous"
    items = [
        (task, dossiers.get(task.dossier), names.get(task.completed_by if done else task.assignee))
        for task in chosen
        if policy.can(actor, "task.view", (dossiers.get(task.dossier), task))
    ]
    return Page(items, total, page, per_page)


def choices(actor, scope):
    """The dossiers and pathways found in the scope, for the filters' lists."""
    # The dossiers of the nearest tasks (the list is a shortcut, not an index of everything).
    nearest = 3 * MAX_CHOICES
    found = _windowed_page(actor, scope, Filters(), 1, nearest) if scope != "available" else None
    if found is None:
        rows = sorted(_rows(actor, scope, Filters()), key=ORDER_KEYS["due"][0])
        keys = {row["pathway"] for row in rows if row.get("pathway")}
    else:
        rows, keys = found[0], tallies.pathways(_tally_owners(actor, scope))
    ids = list(dict.fromkeys(row["dossier"] for row in rows if row.get("dossier")))[:MAX_CHOICES]
    pathways = Pathway.objects(key__in=list(keys)).scalar("key", "name") if keys else []
    dossiers = Dossier.objects(id__in=ids).only("identity") if ids else []
    named = sorted((d.identity.display_name, d.id) for d in dossiers)
    return {
        "pathways": sorted(pathways, key=lambda pair: pair[1]),
        "dossiers": [(dossier_id, name) for name, dossier_id in named],
    }


def counters(actor):
    """The inbox's numbers for the navigation: my open tasks, those to take, and for
    coordinators the overdue tasks they follow. Counted at most once a minute per user (kept
    beside the bell's number, read on every page anyway), and again as soon as a task of
    theirs moves (a notice, or their own action)."""
    kept = notifications.navigation_counters(actor)
    counted_at = kept.get("tasks_at")
    if counted_at and utcnow() - counted_at < COUNTS_KEPT_FOR:
        return kept["tasks"]
    counts = {
        "mine": windowed_total(actor, "mine", Filters()),
        "available": len(_rows(actor, "available", Filters())),
    }
    if follows(actor):
        counts["followed_overdue"] = windowed_total(actor, "followed", Filters(overdue=True))
    notifications.keep_task_counts(actor, counts)
    kept.update(tasks=counts, tasks_at=utcnow())
    return counts


@signals.task_changed.connect
def _recount(actor, task, **extra):
    notifications.forget_task_counts([getattr(actor, "id", None), task.assignee])


def claim_many(actor, task_ids):
    """Take several tasks at once: each one is claimed on its own (traced like one claim);
    returns (the tasks taken, {id: why not} for the others)."""
    ids = list(dict.fromkeys(str(i) for i in task_ids))
    if not ids:
        raise InvalidInput({"/tasks": "Choisissez au moins une tâche."})
    if len(ids) > MAX_BULK:
        raise InvalidInput({"/tasks": f"Au plus {MAX_BULK} tâches à la fois."})
    taken, refused = [], {}
    for task_id in ids:
        try:
            taken.append(instances.claim_task(actor, task_id))
        except (Conflict, NotFound, Forbidden) as error:
            refused[task_id] = error.message
    return taken, refused
