"""Dossiers in the browser: "Mes dossiers", creation under consent, search, the dossier page
with its timeline, identity, consent and join requests."""

from flask import Blueprint, flash, redirect, render_template, request, url_for

from app.accounts.models import User
from app.clock import today
from app.dossiers import circle, documents, entries, listing, services, timeline
from app.dossiers.limits import identity_lookups
from app.dossiers.models import Entry
from app.dossiers.schemas import DETAIL_FIELDS, IDENTITY_FIELDS
from app.errors import Conflict, Forbidden
from app.forms import FORM_ERRORS, acting_user, signed_in_only, status_of
from app.paging import int_arg
from app.structures.models import Structure
from app.structures.services import cached_structure
from app.uploads import accepts_uploads, uploaded_file
from app.validation import InvalidInput

bp = Blueprint("dossiers", __name__, url_prefix="/dossiers")

signed_in_only(bp)

CONTACT_FIELDS = ("name", "relation", "phone", "email")
PER_PAGE = 20


def form_pointer(pointer):
    """A service's JSON pointer as the name of the HTML field it is about."""
    for prefix, replacement in (
        ("/identity/", "/"),
        ("/consent/", "/consent_"),
        ("/contacts/0/", "/contact_"),
        ("/file", "/consent_file"),
    ):
        if pointer.startswith(prefix):
            return replacement + pointer[len(prefix) :]
    return pointer


def dossier_data(form):
    """The posted dossier form as the service's JSON shape."""
    data = {
        "identity": {
            name: form.get(name, "").strip()
            for name in IDENTITY_FIELDS
            if form.get(name, "").strip()
        },
        **{name: form.get(name, "").strip() for name in DETAIL_FIELDS if name in form},
    }
    contact = {name: form.get(f"contact_{name}", "").strip() for name in CONTACT_FIELDS}
    if any(contact.values()):
        data["contacts"] = [contact]
    elif "contact_name" in form:
        data["contacts"] = []
    return data


def _page(template, status=200, error=None, **context):
    fields = {form_pointer(p): m for p, m in getattr(error, "fields", {}).items()}
    message = getattr(error, "message", None)
    return render_template(
        template, values=request.form, errors=fields, error_message=message, **context
    ), status


def coordinated_structures(user):
    ids = [m.structure for m in user.memberships if "coordinator" in m.roles]
    return list(Structure.objects(id__in=ids, active=True).order_by("name")) if ids else []


@bp.get("/")
def index():
    actor = acting_user()
    query = request.args.get("q", "")
    scope = "structure" if request.args.get("scope") == "structure" else "mine"
    sort = request.args.get("sort", "activity")
    after = request.args.get("after")
    found, next_cursor = listing.list_dossiers(actor, query, scope, sort, after, PER_PAGE)
    return render_template(
        "dossiers/index.html",
        dossiers=found,
        next_cursor=next_cursor,
        first_page=not after,
        query=query,
        scope=scope,
        sort=sort,
        can_create=bool(coordinated_structures(actor)),
    )


@bp.route("/nouveau", methods=["GET", "POST"])
@accepts_uploads
@identity_lookups(methods=["POST"], deduct_when=lambda response: response.status_code == 409)
def create():
    actor = acting_user()
    structures = coordinated_structures(actor)
    if not structures:
        raise Forbidden("Seuls les coordinateurs d'une structure créent des dossiers.")
    context = {"structures": structures, "structure_options": {s.key: s.name for s in structures}}
    if request.method == "GET":
        values = {"consent_date": today(), "structure": structures[0].key}
        return render_template("dossiers/new.html", values=values, errors={}, **context)
    data = {
        **dossier_data(request.form),
        "consent": {
            "mode": request.form.get("consent_mode", ""),
            "date": request.form.get("consent_date", ""),
        },
        "structure": request.form.get("structure", ""),
        "confirm_new": request.form.get("confirm_new") == "on",
    }
    data["consent"] = {k: v for k, v in data["consent"].items() if v}
    try:
        posted_file = uploaded_file("consent_file", required=False)
        upload = documents.inspect(*posted_file, pointer="/file") if posted_file else None
        dossier = services.create_dossier(actor, data, upload)
    except Conflict as error:
        if "candidates" not in error.extra:
            return _page("dossiers/new.html", error.status, error, **context)
        return _page("dossiers/new.html", 409, candidates=error.extra["candidates"], **context)
    except FORM_ERRORS as error:
        return _page("dossiers/new.html", status_of(error), error, **context)
    flash("Le dossier a été créé.", "success")
    return redirect(url_for("dossiers.show", dossier_id=dossier.id))


def _searching():
    """Whether the page was sent with criteria ("q": what the former search page sent)."""
    return any(name in request.args for name in (*listing.SEARCH_FIELDS, "q"))


@bp.get("/recherche")
@identity_lookups(exempt_when=lambda: not _searching())  # the empty form is free
def search():
    actor = acting_user()
    values = {name: request.args.get(name, "") for name in listing.SEARCH_FIELDS}
    results, errors = None, {}
    if _searching():
        try:
            results = listing.search_identity(actor, values)
        except InvalidInput as invalid:
            errors = {pointer.lstrip("/"): message for pointer, message in invalid.fields.items()}
    pending = circle.my_pending_requests(actor, [r["id"] for r in results or []])
    return render_template(
        "dossiers/search.html",
        values=values,
        results=results,
        errors=errors,
        pending={str(p) for p in pending},
    ), (400 if errors else 200)


def entries_by_id(items):
    """The entries the timeline items point at, in one query (for previews)."""
    ids = [item.entry for item in items if item.entry]
    return {e.id: e for e in Entry.objects(id__in=ids)} if ids else {}


@bp.get("/<dossier_id>")
def show(dossier_id):
    actor = acting_user()
    dossier = services.get_dossier(actor, dossier_id)
    kind = request.args.get("kind") if request.args.get("kind") in timeline.KINDS else None
    items, next_before = timeline.page(actor, dossier, int_arg("before"), kind)
    return render_template(
        "dossiers/show.html",
        dossier=dossier,
        structure=cached_structure(dossier.structure),
        items=items,
        entries=entries_by_id(items),
        next_before=next_before,
        kind=kind,
        kinds=timeline.KINDS,
        referent=dossier.member_for(dossier.referent) if dossier.referent else None,
    )


@bp.route("/<dossier_id>/identite", methods=["GET", "POST"])
def identity(dossier_id):
    actor = acting_user()
    if request.method == "GET":
        dossier = services.get_dossier(actor, dossier_id)
        return _identity_page(dossier, _identity_values(dossier))
    dossier = services.get_dossier(actor, dossier_id, "dossier.edit")
    try:
        services.update_dossier(actor, dossier, dossier_data(request.form))
    except FORM_ERRORS as error:
        return _page("dossiers/identity.html", status_of(error), error, dossier=dossier,
                     checker=_checker(dossier))  # fmt: skip
    flash("Le dossier a été mis à jour.", "success")
    return redirect(url_for("dossiers.show", dossier_id=dossier.id))


@bp.post("/<dossier_id>/identite/verification")
def identity_check(dossier_id):
    actor = acting_user()
    dossier = services.get_dossier(actor, dossier_id, "dossier.edit")
    data = {"document": request.form.get("document", ""),
            "ins_checked": request.form.get("ins_checked") == "oui"}  # fmt: skip
    if request.form.get("traits"):  # the identity as the page showed it
        data["traits"] = request.form["traits"]
    try:
        services.check_identity(actor, dossier, data)
    except FORM_ERRORS as error:
        fields = getattr(error, "fields", {}) or {"/document": str(error)}
        page = _identity_page(dossier, _identity_values(dossier), check_errors=fields,
                              check_values=request.form)  # fmt: skip
        return page, status_of(error)
    flash(f"Statut de l'identité : {dossier.identity.status_label.lower()}.", "success")
    return redirect(url_for("dossiers.identity", dossier_id=dossier.id))


def _identity_values(dossier):
    values = {
        **dossier.identity.to_mongo().to_dict(),
        **{name: dossier[name] or "" for name in DETAIL_FIELDS},
    }
    contact = dossier.contacts[0] if dossier.contacts else None
    for name in CONTACT_FIELDS:
        values[f"contact_{name}"] = (contact[name] or "") if contact else ""
    return values


def _checker(dossier):
    """Who checked the identity, to name them beside the check."""
    checked_by = dossier.identity.checked_by
    return User.objects(id=checked_by).only("name").first() if checked_by else None


def _identity_page(dossier, values, **context):
    return render_template("dossiers/identity.html", dossier=dossier, values=values, errors={},
                           checker=_checker(dossier), **context)  # fmt: skip


def _consent_scan(actor, dossier):
    """The consent's scanned document, if `actor` may open it (it is an entry)."""
    scan = dossier.consent.document
    return scan if scan in entries.openable(actor, [scan], dossier) else None


@bp.route("/<dossier_id>/consentement", methods=["GET", "POST"])
def consent(dossier_id):
    actor = acting_user()
    if request.method == "GET":
        dossier = services.get_dossier(actor, dossier_id)
        return render_template("dossiers/consent.html", dossier=dossier, values={"date": today()},
                               errors={}, scan=_consent_scan(actor, dossier))  # fmt: skip
    dossier = services.get_dossier(actor, dossier_id, "dossier.withdraw_consent")
    data = {k: request.form.get(k, "").strip() for k in ("date", "reason")}
    try:
        circle.withdraw_consent(actor, dossier, {k: v for k, v in data.items() if v})
    except FORM_ERRORS as error:
        return _page("dossiers/consent.html", status_of(error), error, dossier=dossier,
                     scan=_consent_scan(actor, dossier))  # fmt: skip
    flash("Le retrait du consentement est enregistré : le partage est arrêté.", "warning")
    return redirect(url_for("dossiers.consent", dossier_id=dossier.id))


@bp.route("/<dossier_id>/rejoindre", methods=["GET", "POST"])
@identity_lookups(methods=["GET"])  # it names the person to whoever has the dossier's id
def join(dossier_id):
    actor = acting_user()
    dossier = services.get_dossier(actor, dossier_id, "dossier.request_join")
    structures = {dossier.structure: cached_structure(dossier.structure)}
    summary = listing.join_summary(dossier, structures)
    if request.method == "GET":
        return render_template("dossiers/join.html", dossier=summary, values={}, errors={})
    data = {k: request.form.get(k, "").strip() for k in ("care_role", "message")}
    try:
        circle.request_join(actor, dossier, {k: v for k, v in data.items() if v})
    except FORM_ERRORS as error:
        return _page("dossiers/join.html", status_of(error), error, dossier=summary)
    flash("Votre demande a été envoyée aux coordinateurs du dossier.", "success")
    return redirect(url_for("dossiers.search"))
