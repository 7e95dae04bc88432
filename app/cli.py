"""The `parcours` command."""

import os
import sys
from pathlib import Path

import click
from flask.cli import FlaskGroup, pass_script_info, with_appcontext
from werkzeug.serving import run_simple

from app import audit, db, policy, shipped
from app.config import is_development


def _create_app():
    from app import create_app
    from app.config import ConfigError
    from app.plugins import PluginError

    try:
        return create_app()
    except (ConfigError, PluginError) as error:
        raise click.ClickException(str(error)) from None


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False, load_dotenv=False)
def cli():
    """Parcours: a care-pathway coordination platform.

    Without MONGODB_URI, every command uses the embedded database kept in PARCOURS_DATA_DIR
    (default ./instance), starting it when no other Parcours process has.
    """


def main():
    # Operator commands run on the server: a missing SECRET_KEY is generated in the data dir.
    os.environ.setdefault("PARCOURS_ENV", "development")
    cli(prog_name="parcours")


@cli.command("run")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, help="Port to listen on.")
@pass_script_info
def run_command(info, host, port):
    """Start Parcours on http://HOST:PORT (development server).

    On an empty embedded database, the demo region is created first. For production, run
    app.wsgi:app under gunicorn with MONGODB_URI set (see the README).
    """
    app = info.load_app()
    with app.app_context():
        seed = app.config["DEMO_SEED"] and is_development(app.config)
        if seed and app.config.get("EMBEDDED_DATABASE") and db.is_empty():
            from app.demo import seed_demo

            created = seed_demo(_shipped(shipped.forms_folder))
            click.echo(f"Empty database: creating the demo region ({created} documents).")
    click.echo(f"Parcours is ready on http://{host}:{port}/ (Ctrl+C to stop).")
    # Not app.run(): Flask ignores it inside a CLI command.
    run_simple(host, port, app, threaded=True)


@cli.command("demo")
@with_appcontext
def demo_command():
    """Create the demo region (structures and accounts); safe to run again."""
    from app.demo import demo_logins, seed_demo

    created = seed_demo(_shipped(shipped.forms_folder))
    click.echo(f"Demo region ready ({created} documents created). Logins:")
    for email, password, name in demo_logins():
        click.echo(f"  {email:32} {password}  ({name})")


@cli.command("install")
@with_appcontext
def install_command():
    """Load the forms and deploy the pathways shipped with Parcours (the platform's own
    processes, such as the account requests' demande_compte); safe to run again."""
    from app.demo import deploy_shipped_workflows
    from app.directory import search
    from app.dossiers import listing
    from app.formkit.services import sync_directory
    from app.pathways import tallies
    from app.terms.services import publish_shipped

    forms = _shipped(shipped.forms_folder)
    workflows = _shipped(shipped.workflows_folder)
    report = _run_service(sync_directory, forms)
    deployed = _run_service(deploy_shipped_workflows, workflows)
    recounted = tallies.recount()  # "Suivi"'s tallies, after an upgrade that brings them
    reindexed = search.reindex()  # the directory's search keys, likewise
    dossiers = listing.reindex()  # the dossiers' birth keys (identity search), likewise
    terms = publish_shipped()
    click.echo(f"forms shipped: {sum(len(keys) for keys in report.values())}; "
               f"created: {', '.join(report['created']) or '-'}; "
               f"published: {', '.join(report['published']) or '-'}")  # fmt: skip
    click.echo(f"pathways shipped: {len(list(workflows.glob('*.bpmn')))}; "
               f"deployed: {', '.join(deployed) or '-'}")  # fmt: skip
    click.echo(f"task tallies corrected: {recounted}; directory entries reindexed: {reindexed}")
    click.echo(f"dossiers reindexed for the identity search: {dossiers}")
    click.echo(f"terms of use: version {terms.version} published" if terms else
               "terms of use: already published")  # fmt: skip


@cli.command("worker")
@click.option("--once", is_flag=True, help="Do what is due now, then stop (for cron).")
@click.option("--interval", default=30.0, show_default=True, help="Seconds between rounds.")
@with_appcontext
def worker_command(once, interval):
    """Background work: fire the pathways' due timers (reminders, escalations, reviews),
    tell the people of late tasks, queue the daily digests and send the e-mails.

    Several workers may run at once: each instance and each e-mail is taken with a lease."""
    import signal
    import time

    from pymongo.errors import ConnectionFailure

    from app.pathways.worker import worker_name

    name, stopping, last_runs = worker_name(), [], {}
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    click.echo(f"Worker {name} started.")
    pause = 0  # seconds to wait after a round the database was away for
    while True:
        # Rounds start every `interval` seconds, or at once after one that overran it (each
        # queue takes at most WORKER_QUEUE_SECONDS of a round): a timer never waits behind the
        # queues for more than a round.
        deadline = time.monotonic() + interval
        try:
            _worker_round(name, last_runs)
            pause = 0
        except ConnectionFailure as error:
            # The database is away: wait, longer each time (up to a minute), and go on; the
            # leases of what this round held expire by themselves.
            pause = min(60, max(1, pause * 2))
            click.echo(f"Database unavailable ({type(error).__name__}): next try in {pause} s.")
            deadline = time.monotonic() + (0 if once else pause)
        while not once and not stopping and time.monotonic() < deadline:
            time.sleep(0.2)  # short naps: SIGTERM stops the worker between two rounds
        if once or stopping:
            return


def _worker_round(name, last_runs):
    from flask import current_app

    from app import plugins
    from app.clock import utcnow
    from app.notifications.worker import run_round
    from app.pathways import tallies
    from app.pathways.worker import fire_due_timers

    moved = fire_due_timers(owner=name)
    if moved:
        click.echo(f"{moved} pathway instance(s) moved by their timers.")
    done = run_round(owner=name)  # late tasks, daily digests, e-mails
    if (recounted := tallies.recount_if_due()) is not None:
        click.echo(f"Task tallies recounted: {recounted} corrected.")
    with current_app.app_context():  # the plugins' jobs (MSSanté mailbox, webhooks…)
        for job, result in plugins.run_jobs(current_app, utcnow(), last_runs).items():
            if result:
                click.echo(f"{job}: {result}")
    if any(done.values()):
        click.echo("Notifications: {overdue} late task(s), {digests} digest(s), "
                   "{sent} e-mail(s) sent, {forgotten} old document(s) forgotten."
                   .format(**done))  # fmt: skip


@cli.group("users")
def users_group():
    """Manage accounts."""


@users_group.command("create")
@click.argument("email")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Initial password (at least 10 characters); asked when omitted.",
)
@click.option("--name", help="Full name (default: the part of EMAIL before @).")
@click.option("--profession", help="Profession code, e.g. 10 (Médecin) or coordinateur.")
@click.option("--platform-admin", is_flag=True, help="Make the account a platform administrator.")
@click.option("--structure", help="Key of a structure to make the account a member of.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    type=click.Choice(["structure_admin", "coordinator", "professional"]),
    help="Role in --structure; repeat for several.",
)
@with_appcontext
def create_user_command(email, password, name, profession, platform_admin, structure, roles):
    """Create an active account for EMAIL."""
    from app.accounts.services import create_user

    data = {
        "email": email,
        "password": password,
        "name": name or email.split("@")[0],
        "platform_admin": platform_admin,
    }
    if profession:
        data["profession"] = profession
    if structure:
        data["memberships"] = [{"structure": structure, "roles": list(roles) or ["professional"]}]
    user = _run_service(create_user, policy.SYSTEM, data)
    click.echo(f"Created {user.email} ({user.id}).")


@cli.group("tokens")
def tokens_group():
    """Manage personal API tokens."""


@tokens_group.command("create")
@click.argument("email")
@click.option("--name", default="cli", show_default=True, help="A name to recognise the token.")
@click.option(
    "--accept-terms",
    is_flag=True,
    help="Record that the account's owner accepts the current terms of use: an account used "
    "only through the API (an integration) never sees the web's terms page.",
)
@with_appcontext
def create_token_command(email, name, accept_terms):
    """Create an API token for EMAIL and print it (it is shown only once)."""
    from app.accounts.models import User
    from app.accounts.schemas import TOKEN_CREATE
    from app.accounts.services import create_token, normalize_email
    from app.terms.services import accept, must_accept
    from app.validation import check

    user = User.objects(email=normalize_email(email)).first()
    if user is None:
        raise click.ClickException(f"No account with the e-mail {email}.")
    pending = must_accept(user) if accept_terms else None
    if pending is not None:
        _run_service(check, TOKEN_CREATE, {"name": name})  # every check before the first write
        _run_service(accept, user, pending.version)
    _, token = _run_service(create_token, policy.SYSTEM, user, {"name": name})
    click.echo(token)  # alone on stdout, for scripts
    if pending is not None:
        click.echo(f"terms of use: version {pending.version} accepted for {user.email}", err=True)


@cli.group("forms")
def forms_group():
    """The form library."""


@forms_group.command("sync")
@click.argument("folder", required=False, type=click.Path(exists=True, file_okay=False))
@with_appcontext
def sync_forms_command(folder):
    """Load the *.json forms of FOLDER (default: the forms shipped with Parcours).

    A new file creates its form; a changed file publishes a new version; an unchanged one
    changes nothing.
    """
    from app.formkit.services import sync_directory

    report = _run_service(sync_directory, folder or _shipped(shipped.forms_folder))
    for state in ("created", "published", "unchanged"):
        click.echo(f"{state}: {', '.join(report[state]) or '-'}")


@cli.group("pathways")
def pathways_group():
    """Coordination pathways (BPMN)."""


@pathways_group.command("deploy")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--structure", help="Key of the owner structure (default: the platform).")
@with_appcontext
def deploy_pathway_command(file, structure):
    """Check FILE and deploy it as a new version; every problem is listed if it is refused.

    Only the files shipped in workflows/ may hold script tasks."""
    from app import policy
    from app.pathways.services import deploy

    path = Path(file).resolve()
    trusted = path.parent == _shipped(shipped.workflows_folder)
    pathway, version, created = _run_service(
        lambda: deploy(policy.SYSTEM, path.read_bytes(), structure, trusted=trusted)
    )
    state = "deployed" if created else "unchanged"
    click.echo(f"{pathway.key}: {state}, version {version.version}")


@cli.group("directory")
def directory_group():
    """The regional directory of professionals."""


@directory_group.command("import-rpps")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def import_rpps_command(file):
    """Import FILE, the national RPPS extract (PS_LibreAcces_Personne_activite_*.txt).

    The whole file is checked first: one that cannot be read changes nothing. A new import of
    the same file changes nothing; a newer one updates what changed and marks those who left
    the file inactive."""
    from app import policy
    from app.directory import imports

    def progress(done, total):
        width = 40
        filled = width * done // total if total else width
        click.echo(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", nl=False)

    record = imports.run(policy.SYSTEM, file, on_progress=progress)
    click.echo("")
    if record.status == "failed":
        raise click.ClickException(record.error)
    report = record.report
    click.echo(
        "{lines} lines, {persons} professionals: {created} created, {updated} updated, "
        "{unchanged} unchanged, {deactivated} deactivated, {rejected_count} rejected".format(
            **report
        )
    )
    for number, reason in report["rejected"]:
        click.echo(f"  line {number}: {reason}")
    if report["rejected_count"] > len(report["rejected"]):
        click.echo(f"  … and {report['rejected_count'] - len(report['rejected'])} more")


@cli.group("audit")
def audit_group():
    """The audit trail."""


@audit_group.command("verify")
@with_appcontext
def verify_command():
    """Check the hash chain of the audit trail; report the first broken link."""
    checked, problem = audit.verify()
    if problem:
        click.echo(f"BROKEN after {checked} valid events: {problem}", err=True)
        sys.exit(1)
    click.echo(f"Audit trail intact: {checked} events verified.")


def _shipped(folder):
    """The folder of shipped files that `folder()` finds; a package without them stops the
    command with the reason (a silent empty install would deploy nothing)."""
    try:
        return folder()
    except shipped.ShippedFilesMissing as error:
        raise click.ClickException(str(error)) from None


def _run_service(service, *args):
    """Call a service; turn its refusal into a readable CLI error."""
    from app.errors import ServiceError
    from app.validation import InvalidInput

    try:
        return service(*args)
    except (ServiceError, InvalidInput) as error:
        # A refused pathway lists every problem, one per line, with its element and line.
        problems = getattr(error, "extra", {}).get("problems", [])
        fields = {} if problems else getattr(error, "fields", {})
        details = "; ".join(f"{k}: {v}" for k, v in fields.items())
        for problem in problems:
            where = problem["element"] or "-"
            if problem["line"]:
                where += f" (ligne {problem['line']})"
            details += f"\n  {where}: {problem['message']}"
        raise click.ClickException(f"{error.message} {details}".strip())
