"""The work inbox: my tasks, the tasks I may take, and for coordinators "Suivi" (every open
task of the dossiers their structures coordinate), with filters, sort and counters.

Each scope is one indexed query in due order ("overdue first": `due_sort` puts tasks without
a due date last). The page's dossiers are read in one query, for their names and for the
policy, which has the last word on every task listed.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask import g
from mongoengine.queryset.visitor import Q

from app import policy, signals
from app.accounts.models import User
from app.clock import PARIS, utcnow
from app.dossiers.models import Dossier
from app.dossiers.services import object_id
from app.errors import Conflict, Forbidden, NotFound
from app.notifications import services as notifications
from app.pathways import instances
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
    nothing is "done" in the tasks to take) as queries that each walk one index by equality:
    one per structure, and the platform's steps apart. The embedded database reads the whole
    first field's range for a `$in`, and scans for an `$or` (README, "Queries")."""
    if scope == "mine":
        queries = [Q(completed_by=actor.id, status="completed") if done
                   else Q(assignee=actor.id, status="open")]  # fmt: skip
    elif scope == "available":
        queries = [
            Q(candidates_structure=m.structure, candidate_professions=actor.profession,
              assignee=None, status="open")
            for m in actor.memberships
        ]  # fmt: skip
        if actor.platform_admin:  # and the platform team's steps
            queries.append(Q(platform=1, assignee=None, status="open"))
    elif scope == "followed":
        status = "completed" if done else "open"
        queries = [Q(structure=s, status=status) for s in coordinated_structures(actor)]
    else:
        raise InvalidInput({"/scope": f"Liste inconnue : choisissez parmi {', '.join(SCOPES)}."})
    refused = refused_dossiers(actor)
    return [q & Q(dossier__nin=refused) for q in queries] if refused else queries


def _filtered(query, filters):
    if filters.dossier:
        query &= Q(dossier=object_id(filters.dossier))
    if filters.pathway:
        query &= Q(pathway=filters.pathway)
    if filters.overdue:
        query &= Q(due_sort__lt=utcnow())
    if filters.due_before:
        day = date.fromisoformat(filters.due_before) + timedelta(days=1)
        query &= Q(due_sort__lt=datetime.combine(day, time(), PARIS))
    return query


# How each order sorts the tasks merged from several queries (as the database sorts each).
ORDER_KEYS = {
    "due": (lambda t: (t.due_sort, t.id), False),
    "recent": (lambda t: t.id, True),
    "oldest": (lambda t: t.id, False),
    "done": (lambda t: t.completed_at, True),
}


def tasks(actor, scope="mine", filters=Filters(), page=1, per_page=50):
    """A page of the scope's tasks that `actor` may see: (task, its dossier, the name of who
    has it or did it). Each query of the scope gives its first page × per_page tasks in
    order; they are merged, and the page cut from them."""
    done = filters.done and scope != "available"
    order = ("-completed_at",) if done else SORTS[filters.sort]
    total, found = 0, []
    for query in _scope_queries(actor, scope, done):
        query = _filtered(query, filters)
        if done:
            query &= Q(completed_at__gte=utcnow() - DONE_WINDOW)
        selected = Task.objects(query).order_by(*order)
        total += selected.count()
        found += list(selected.limit(page * per_page))
    key, reverse = ORDER_KEYS["done" if done else filters.sort]
    found.sort(key=key, reverse=reverse)
    chosen = found[(page - 1) * per_page : page * per_page]
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
    keys, ids = set(), set()
    for query in _scope_queries(actor, scope):
        keys |= {key for key in Task.objects(query).distinct("pathway") if key}
        ids |= {i for i in Task.objects(query).distinct("dossier") if i}
    pathways = Pathway.objects(key__in=list(keys)).scalar("key", "name") if keys else []
    dossiers = Dossier.objects(id__in=list(ids)[:500]).only("identity").order_by("sort_name")
    return {
        "pathways": sorted(pathways, key=lambda pair: pair[1]),
        "dossiers": [(d.id, d.identity.display_name) for d in dossiers],
    }


def _count(queries):
    return sum(Task.objects(query).count() for query in queries)


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
        "mine": _count(_scope_queries(actor, "mine")),
        "available": _count(_scope_queries(actor, "available")),
    }
    if follows(actor):
        late = Q(due_sort__lt=utcnow())
        counts["followed_overdue"] = _count(q & late for q in _scope_queries(actor, "followed"))
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
