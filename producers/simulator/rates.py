"""The simulator's knobs, with defaults calibrated on published figures.

Targets (shared/research/domain-research.md section 6): online share ~60-70% (HCMC 68%, Thái Nguyên
59%, first days of the two-level model 57-60%), on time ~96% (HCMC 96.2%; overdue 0.6-4% elsewhere),
~10% of dossiers asked for supplements. Volumes are scaled down: `dossiers_per_day` is per 3 million
inhabitants, far below the real ~2,000, so that a quarter of a few provinces fits in a test fixture.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rates:
    dossiers_per_day: float = 100.0  # per working day and 3 million inhabitants
    online_full: float = 0.86  # share filed online, for procedures offered fully online
    online_partial: float = 0.52  # ... offered partly online
    postal: float = 0.02  # filed by public postal service
    evening_submission: float = 0.15  # online submissions filed after hours (accepted next morning)
    intake_rejection: float = 0.03  # online/postal submissions refused at intake
    supplement: float = 0.10  # accepted dossiers asked for supplements once...
    second_supplement: float = 0.10  # ... and of those, asked a second time (~1% of all: late by rule)
    unanswered_supplement: float = 0.05  # supplement requests the applicant never answers
    withdrawal: float = 0.006
    stop: float = 0.003
    rejection_after_acceptance: float = 0.004
    late_mean: float = 0.02  # mean per-unit propensity to finish late (spread log-normally across units)
    apology_timely: float = 0.6  # late dossiers with an apology at least one working day before due
    apology_untimely: float = 0.2  # ... with an apology too close to (or after) the due date
    paid_online_online: float = 0.85
    paid_online_counter: float = 0.12
    e_result_online: float = 0.92
    e_result_counter: float = 0.55
    digitized_online: float = 0.95
    digitized_counter: float = 0.75
    reused_data: float = 0.3
    business_applicant: float = 0.18
    rating_online: float = 0.35
    rating_counter: float = 0.12
    dissatisfied: float = 0.02
    dissatisfied_if_late: float = 0.3
    neutral: float = 0.05
    duplicate: float = 0.004  # events sent twice by the source
    late_arrival: float = 0.01  # events delivered late (out of order)
