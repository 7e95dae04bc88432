"""Pages of the MSSanté plugin: send from a dossier, an entry or the directory; a
structure's mailbox settings and its log."""

from flask import Blueprint, flash, redirect, render_template, request, url_for

from app.dossiers import entries as dossier_entries
from app.dossiers import services as dossiers
from app.errors import NotFound
from app.forms import FORM_ERRORS, acting_user, signed_in_only, status_of
from plugins.mss import outgoing, settings

bp = Blueprint("plugin_mss", __name__, template_folder="templates")
signed_in_only(bp)


def _attached(actor, dossier, ids):
    """The entries named in the query string, for the page to show (404 if not seen)."""
    found = [dossier_entries.get_entry(actor, entry_id)[1] for entry_id in ids]
    if dossier is None and found:
        raise NotFound(dossier_entries.NOT_FOUND)
    return found


def _refused(template, refused, **page):
    errors = getattr(refused, "fields", {})
    page = {"errors": errors, "error_message": refused.message, **page}
    return render_template(template, **page), status_of(refused)


@bp.route("/envoyer", methods=["GET", "POST"])
def compose():
    actor = acting_user()
    dossier_id, entry_ids = request.values.get("dossier"), request.values.getlist("entry")
    dossier = dossiers.get_dossier(actor, dossier_id, record=False) if dossier_id else None
    attached = _attached(actor, dossier, entry_ids)
    values = {"to": request.args.get("to", "")} if request.method == "GET" else request.form
    page = {"dossier": dossier, "attached": attached, "values": values,
            "mailbox": outgoing.mailbox_for(actor, dossier)}  # fmt: skip
    if request.method == "GET":
        return render_template("mss/compose.html", errors={}, **page)
    try:
        mail = outgoing.compose(actor, request.form, dossier_id, entry_ids)
    except FORM_ERRORS as refused:
        return _refused("mss/compose.html", refused, **page)
    flash(f"Le message part par MSSanté vers {mail.address}.", "success")
    return redirect(url_for("discussions.thread", discussion_id=mail.discussion))


@bp.route("/reglages", methods=["GET", "POST"])
def configure():
    actor = acting_user()
    choices = settings.administered(actor)
    if not choices:
        raise NotFound("Vous n'administrez aucune structure.")
    chosen = request.values.get("structure") or str(choices[0].id)
    structure = settings.structure_of(actor, chosen)
    stored = settings.MssSettings.objects(structure=structure.id).first()
    page = {"structures": choices, "structure": structure, "stored": stored}
    if request.method == "GET":
        values = stored.to_mongo().to_dict() if stored else {"smtp_port": 587, "imap_port": 143}
        return render_template("mss/settings.html", values=values, errors={}, **page)
    try:
        settings.save(actor, structure, request.form)
    except FORM_ERRORS as refused:
        return _refused("mss/settings.html", refused, values=request.form, **page)
    flash("La boîte aux lettres MSSanté de la structure est enregistrée.", "success")
    return redirect(url_for("plugin_mss.journal", structure=structure.id))


@bp.get("/journal")
def journal():
    actor = acting_user()
    structure = settings.structure_of(actor, request.args.get("structure"), "mss.log")
    mails, mailbox = settings.journal(actor, structure)
    return render_template("mss/journal.html", structure=structure, mails=mails, mailbox=mailbox)
