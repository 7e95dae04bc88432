"""API: invite a professional who has no account; my invitations."""

from app.api.core import current_api_user, json_body, route
from app.clock import utcnow
from app.invitations import services

TAG = "Invitations"


def invitation_json(invitation, now):
    return {
        "id": str(invitation.id),
        "email": invitation.email,
        "name": invitation.name,
        "profession": invitation.profession,
        "context": invitation.context,
        "status": invitation.status_now(now),
        "created_at": invitation.created_at.isoformat(),
        "expires_at": invitation.expires_at.isoformat(),
    }


@route(
    "/invitations",
    "POST",
    "Inviter un professionnel sans compte : {email, name, profession?, note?, professional?, "
    "dossier?, conversation?} → le lien (montré une seule fois) et le texte à copier",
    body=services.INVITATION,
    status=201,
    tag=TAG,
)
def create_invitation():
    invitation, link = services.invite(current_api_user(), json_body())
    return {
        **invitation_json(invitation, utcnow()),
        "link": link,
        "text": services.text_of(invitation, link),
    }, 201


@route("/invitations", "GET", "Mes invitations et leur état", tag=TAG)
def list_invitations():
    now = utcnow()
    return {"items": [invitation_json(i, now) for i in services.mine(current_api_user())]}
