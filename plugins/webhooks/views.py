"""The subscriptions' pages: list, new one, pause, new secret, delete, delivery log and
sending a failed delivery again."""

from flask import Blueprint, flash, redirect, render_template, request, url_for

from app.errors import Conflict
from app.forms import acting_user, posted, rerender, signed_in_only
from app.validation import InvalidInput
from plugins.webhooks import services
from plugins.webhooks.models import EVENTS

bp = Blueprint("plugin_webhooks", __name__, template_folder="templates")

signed_in_only(bp)


@bp.get("/")
def index():
    actor = acting_user()
    subscriptions, structures = services.list_subscriptions(actor)
    return render_template("webhooks/list.html", subscriptions=subscriptions,
                           structures=structures,
                           manageable=services.manageable_structures(actor))  # fmt: skip


@bp.route("/nouveau", methods=["GET", "POST"])
def create():
    actor = acting_user()
    choices = services.creation_choices(actor)
    if request.method == "POST":
        data = posted("structure", "url", "label", lists=("events",))
        try:
            subscription, secret = services.create_subscription(actor, data)
        except InvalidInput as error:
            return rerender("webhooks/form.html", error, structures=choices, events=EVENTS)
        flash("L'abonnement est enregistré.", "success")
        return _secret_page(subscription, secret)
    values = {"structure": str(choices[0].id)}
    return render_template("webhooks/form.html", values=values, errors={}, structures=choices,
                           events=EVENTS)  # fmt: skip


@bp.get("/<subscription_id>")
def log(subscription_id):
    actor = acting_user()
    subscription = services.get_subscription(actor, subscription_id)
    return render_template("webhooks/log.html", subscription=subscription,
                           structure=services.structure_of(subscription),
                           deliveries=services.delivery_log(actor, subscription))  # fmt: skip


@bp.post("/<subscription_id>/activation")
def set_active(subscription_id):
    actor = acting_user()
    subscription = services.get_subscription(actor, subscription_id, "webhook.manage")
    active = request.form.get("active") == "1"
    services.set_active(actor, subscription, active)
    flash("L'abonnement est repris." if active else "L'abonnement est en pause.", "success")
    return redirect(url_for(".index"))


@bp.post("/<subscription_id>/secret")
def regenerate(subscription_id):
    actor = acting_user()
    subscription = services.get_subscription(actor, subscription_id, "webhook.manage")
    secret = services.regenerate_secret(actor, subscription)
    flash("Un nouveau secret remplace l'ancien, dès maintenant.", "success")
    return _secret_page(subscription, secret)


@bp.post("/<subscription_id>/supprimer")
def delete(subscription_id):
    actor = acting_user()
    subscription = services.get_subscription(actor, subscription_id, "webhook.manage")
    services.delete_subscription(actor, subscription)
    flash("L'abonnement et son journal sont supprimés.", "success")
    return redirect(url_for(".index"))


@bp.post("/<subscription_id>/envois/<delivery_id>/renvoyer")
def retry(subscription_id, delivery_id):
    actor = acting_user()
    subscription = services.get_subscription(actor, subscription_id, "webhook.manage")
    try:
        services.retry_delivery(actor, subscription, delivery_id)
    except Conflict as refused:  # not failed, or paused: said on the log, nothing changed
        flash(refused.message, "warning")
    else:
        flash("L'envoi est remis dans la file : il repart dans quelques instants.", "success")
    return redirect(url_for(".log", subscription_id=subscription.id))


def _secret_page(subscription, secret):
    """The secret, shown this once: the answer to the POST, never cached, never a page of
    its own to come back to."""
    page = render_template("webhooks/secret.html", subscription=subscription, secret=secret,
                           structure=services.structure_of(subscription))  # fmt: skip
    return page, 200, {"Cache-Control": "no-store"}
