"""Discussions in the browser: my discussions, a new conversation, a thread (a dossier's or a
conversation's) that refreshes itself every few seconds (htmx polling), posting with files
and dictation, attached files of conversations."""

from flask import Blueprint, flash, redirect, render_template, request, url_for

from app import policy
from app.accounts.models import User
from app.discussions import services
from app.discussions.models import MAX_BODY
from app.dossiers import documents, habilitations
from app.dossiers import services as dossier_services
from app.forms import FORM_ERRORS, acting_user, signed_in_only, status_of
from app.paging import int_arg
from app.reference import DATA_CATEGORIES
from app.uploads import MAX_FILE, accepts_uploads

bp = Blueprint("discussions", __name__)
signed_in_only(bp)
POLL_SECONDS = 5


@bp.get("/messages")
def index():
    actor = acting_user()
    return render_template("discussions/index.html", rows=services.mine(actor))


def _colleagues(actor):
    """Whom a conversation may be started with from the page: the members of my structures."""
    mine = [m.structure for m in actor.memberships]
    found = User.objects(memberships__structure__in=mine, status="active", id__ne=actor.id)
    return list(found.only("name", "profession").order_by("name").limit(500))


@bp.route("/messages/nouvelle", methods=["GET", "POST"])
def new_conversation():
    actor = acting_user()
    chosen = request.values.getlist("avec")
    error = None
    if request.method == "POST":
        try:
            discussion = services.start_conversation(actor, chosen, request.form.get("title", ""))
            if request.form.get("body", "").strip():
                services.post(actor, discussion, None, request.form["body"])
        except FORM_ERRORS as refused:
            error = refused
        else:
            return redirect(url_for("discussions.thread", discussion_id=discussion.id))
    people = _colleagues(actor)
    known = {str(p.id) for p in people}
    extra = [i for i in chosen if i not in known]
    if extra:  # someone met elsewhere (the directory, a circle of care)
        people += list(
            User.objects(id__in=[dossier_services.object_id(i) for i in extra if
                                 dossier_services.object_id(i)], status="active")
        )  # fmt: skip
    return render_template(
        "discussions/new.html",
        people=people,
        chosen=set(chosen),
        values=request.form,
        error=error,
        max_body=MAX_BODY,
    ), status_of(error) if error else 200


def _thread_page(actor, discussion, dossier, status=200, error=None):
    messages = services.read(actor, discussion, dossier, before=int_arg("avant"))
    writable = (
        [c for c in habilitations.writable_categories(actor)
         if policy.can(actor, "entry.create", (dossier, c))]
        if dossier else []
    )  # fmt: skip
    return render_template(
        "discussions/thread.html",
        discussion=discussion,
        dossier=dossier,
        messages=messages,
        last_seq=messages[-1].seq if messages else 0,
        older=messages[0].seq if messages and messages[0].seq > 1 else None,
        may_post=policy.can(actor, "discussion.post", (discussion, dossier)),
        categories=[(c, DATA_CATEGORIES[c]) for c in writable],
        participants=_participant_names(discussion),
        seen_by=services.readers(discussion, messages[-1] if messages else None),
        values=request.form,
        error=error,
        max_body=MAX_BODY,
        max_file=MAX_FILE,
        accepted=", ".join(f".{ext}" for ext in sorted(set(documents.ACCEPTED.values()))),
        poll=POLL_SECONDS,
        visible=services.visible_documents(actor, dossier, messages),
    ), status


def _participant_names(discussion):
    if discussion.kind == "dossier":
        return []
    return sorted(User.objects(id__in=discussion.participants).scalar("name"))


@bp.get("/dossiers/<dossier_id>/discussion")
def dossier_thread(dossier_id):
    actor = acting_user()
    dossier = dossier_services.get_dossier(actor, dossier_id, record=False)
    discussion = services.dossier_thread(actor, dossier)
    return _thread_page(actor, discussion, dossier)


@bp.route("/messages/<discussion_id>", methods=["GET", "POST"])
@accepts_uploads
def thread(discussion_id):
    actor = acting_user()
    discussion, dossier = services.get_discussion(actor, discussion_id)
    if request.method == "GET":
        if dossier is not None and not request.args:
            return redirect(url_for("discussions.dossier_thread", dossier_id=dossier.id))
        return _thread_page(actor, discussion, dossier)
    files = [
        (storage.stream.read(MAX_FILE + 1), storage.filename)
        for storage in request.files.getlist("files")
        if storage and storage.filename
    ]
    try:
        services.post(
            actor, discussion, dossier, request.form.get("body", ""), files,
            category=request.form.get("category") or "administratif",
        )  # fmt: skip
    except FORM_ERRORS as error:
        return _thread_page(actor, discussion, dossier, status_of(error), error)
    flash("Message envoyé.", "success")
    if dossier is not None:
        return redirect(url_for("discussions.dossier_thread", dossier_id=dossier.id) + "#fin")
    return redirect(url_for("discussions.thread", discussion_id=discussion.id) + "#fin")


@bp.get("/messages/<discussion_id>/suite")
def since(discussion_id):
    """What came after message `apres`, and the poller that asks again (htmx)."""
    actor = acting_user()
    discussion, dossier = services.get_discussion(actor, discussion_id)
    after = int_arg("apres", 0)
    messages = services.read(actor, discussion, dossier, after=after)
    return render_template(
        "discussions/_since.html",
        discussion=discussion,
        dossier=dossier,
        messages=messages,
        last_seq=messages[-1].seq if messages else after,
        poll=POLL_SECONDS,
        visible=services.visible_documents(actor, dossier, messages),
    )


@bp.get("/messages/<discussion_id>/fichiers/<file_id>")
@documents.serves_files
def attachment(discussion_id, file_id):
    found, stored = services.open_attachment(acting_user(), discussion_id, file_id)
    return documents.send(found, stored)
