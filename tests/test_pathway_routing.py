"""Who a pathway step goes to: the circle member with the lane's role, else candidates of the
coordinating structure, else the referent, flagged unresolved."""

from dossier_helpers import new_dossier

from app.dossiers import circle
from app.pathways.routing import route_step


def test_the_member_holding_the_role_gets_the_step(
    coordinator, structure, make_user, other_structure
):
    dossier = new_dossier(coordinator, structure)
    gp = make_user(other_structure, profession="10")
    circle.add_member(coordinator, dossier, {"user": str(gp.id), "care_role": "medecin_traitant"})
    dossier.reload()
    assert route_step(dossier, "medecin_traitant") == {"assignee": gp.id}
    assert route_step(dossier, "coordinateur") == {"assignee": coordinator.id}


def test_a_member_whose_time_ended_is_skipped(coordinator, structure, make_user):
    dossier = new_dossier(coordinator, structure)
    nurse = make_user(structure, profession="60")
    circle.add_member(
        coordinator,
        dossier,
        {
            "user": str(nurse.id),
            "care_role": "infirmier",
            "since": "2020-01-01",
            "until": "2020-12-31",
        },
    )
    dossier.reload()
    # The structure has a nurse (the same one): she is a candidate, not the assignee.
    assert route_step(dossier, "infirmier") == {
        "candidates_structure": structure.id,
        "candidate_professions": ["60", "69"],
    }


def test_nobody_fits_the_referent_decides(coordinator, structure):
    dossier = new_dossier(coordinator, structure)
    routed = route_step(dossier, "kinesitherapeute")
    assert routed["unresolved"] == 1
    assert routed["assignee"] == coordinator.id
    assert routed["candidates_structure"] == structure.id
