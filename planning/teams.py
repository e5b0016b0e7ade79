"""Can a team be recruited near a training hub? The eligible homes within the hub's reach, counted.

A home is placed at the centroid of its postcode sector when that is known (full postcodes, CSV input), else of
its district; homes are never placed more precisely than that, nor drawn. A home is within reach when the
great-circle distance from its centroid to the hub is at most `reach_km`. The count shown, and whether a team
can be formed, follow the privacy rules (planning/privacy.py: rounded, and no answer that would narrow the
rounding down), and a hub with
fewer than MIN_HOMES eligible homes names no areas either: "the one eligible home near Mansfield is in NG19 8"
would point at a household. Pure.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from homeshore.planning.distance import haversine_km
from homeshore.planning.eligibility import PlanningError
from homeshore.planning.map_model import Eligibility, HomeAssessment, Hub, HubTeam
from homeshore.planning.privacy import is_suppressed, published_hub_count, published_team_possible

DEFAULT_TEAM_SIZE = 15  # the seed pilots' teams: about 15 advisors a team leader can visit


def home_location(assessment: HomeAssessment,
                  centroids: Mapping[str, tuple[float, float]]) -> tuple[float, float] | None:
    """(lat, lon) of the home's sector centroid if known, else its district's, else None (the home is not placed)."""
    if assessment.sector is not None and assessment.sector in centroids:
        return centroids[assessment.sector]
    return centroids.get(assessment.district)


def hub_teams(hubs: Sequence[Hub], assessments: Sequence[HomeAssessment],
              centroids: Mapping[str, tuple[float, float]], team_size: int = DEFAULT_TEAM_SIZE) -> list[HubTeam]:
    """One HubTeam per hub, in the order given. `areas`: the sorted distinct `area` codes of the homes counted."""
    if isinstance(team_size, bool) or not isinstance(team_size, int) or team_size < 1:
        raise PlanningError(f"team_size must be a whole number of at least 1, not {team_size!r}")
    placed = [(home.area, location) for home in assessments if home.status is Eligibility.ELIGIBLE
              and (location := home_location(home, centroids)) is not None]
    teams = []
    for hub in hubs:
        within = [area for area, (lat, lon) in placed if haversine_km(hub.lat, hub.lon, lat, lon) <= hub.reach_km]
        count = len(within)
        teams.append(HubTeam(hub=hub, eligible_homes=published_hub_count(count), team_size=team_size,
                             team_possible=published_team_possible(count, team_size),
                             areas=() if is_suppressed(count) else tuple(sorted(set(within)))))
    return teams
