"""Who a pathway step goes to (issue 5): the circle-of-care member holding the lane's care
role; else, as candidates ("À prendre"), the coordinating structure's members whose profession
fits the role; else the dossier's referent, flagged unresolved for the coordinators. Only
those whose profession may write the data category of the step's form are given or offered it
(its submission becomes an entry of the dossier)."""

from app.accounts.models import User
from app.clock import today
from app.dossiers.habilitations import profession_may_write
from app.reference import CARE_ROLE_PROFESSIONS, PLATFORM_LANES


def route_step(dossier, care_role, skip=None, category=None):
    """The Task fields that say who must do a step of lane `care_role` on `dossier`; `skip`:
    a user who gave the task back, not to be given it again; `category`: the data category of
    the step's form."""
    if care_role in PLATFORM_LANES or dossier is None:
        # The platform administrators take it (a care role in a platform process has nobody
        # to go to: flagged unresolved).
        return {"platform": 1, "unresolved": int(care_role not in PLATFORM_LANES)}
    day = today()

    def writes(profession):
        return category is None or profession_may_write(profession, category)

    for member in dossier.members:
        if (
            member.user
            and member.user != skip
            and member.care_role == care_role
            and (member.active_on(day))
            and writes(member.profession)
        ):
            return {"assignee": member.user}
    professions = [p for p in CARE_ROLE_PROFESSIONS.get(care_role, []) if writes(p)]
    if professions and User.objects(
        memberships__structure=dossier.structure, profession__in=professions, status="active"
    ).limit(1).count(True):
        return {"candidates_structure": dossier.structure, "candidate_professions": professions}
    referent = dossier.member_for(dossier.referent) if dossier.referent else None
    return {
        "assignee": referent.user if referent else None,
        "candidates_structure": dossier.structure,
        "candidate_professions": CARE_ROLE_PROFESSIONS["coordinateur"],
        "unresolved": 1,
    }
