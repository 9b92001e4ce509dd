"""One province's working day of dossiers, and each dossier's whole lifecycle, as pure functions.

Every draw comes from a `random.Random` seeded by (seed, province, day) or (seed, unit), so a
province-day is the same whatever else is simulated, and the same seed gives the same events.
A lifecycle is planned in full at arrival as a list of `Step`s; the stream module orders them in
time and drops what falls after the simulated range.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from dossier import catalog
from dossier.catalog import Procedure
from producers.simulator.rates import Rates
from producers.simulator.workclock import DAY, WORK_DAY, WorkClock, date_of_day, day_start, local_day

HOUR = 3600

# Arrivals per half-hour slot of the working day: a morning peak around 08:30-09:30, a smaller one
# after lunch, quiet late afternoon. Sixteen slots: nine in the morning session, seven after lunch.
_SLOT_WEIGHTS = (0.6, 1.0, 1.4, 1.6, 1.6, 1.5, 1.3, 1.0, 0.6, 0.8, 1.1, 1.2, 1.1, 0.9, 0.6, 0.3)
_SLOT_CUM = list(itertools.accumulate(_SLOT_WEIGHTS))
_WEEKDAY = (1.15, 1.05, 1.0, 0.98, 0.87, 0.6, 0.6)  # Monday..Sunday (weekends only when swapped to work)
_MONTH = (1.1, 0.85, 1.05, 1.0, 1.0, 1.0, 1.05, 1.0, 1.0, 1.0, 1.05, 1.15)  # Tết dip, year-end rush


class Step(NamedTuple):
    """One planned event: when, its type, and its fields beyond the dossier's common ones."""

    at: int
    type: str
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Dossier:
    """A planned dossier: identity, common event fields and its lifecycle."""

    dossier_id: str
    common: dict[str, Any]
    steps: list[Step]


def _pseudonym(*parts: object) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:32]


def _cumulative(weights: list[float]) -> list[float]:
    return list(itertools.accumulate(weights))


class ProvinceModel:
    """Per-province constants of the simulation: units, their propensities, the procedure mix."""

    def __init__(self, seed: int, code: str, communes: int, rates: Rates) -> None:
        self.code = code
        self.rates = rates
        self.source = f"sim-{code}"
        p = catalog.province(code)
        self.mean_per_day = rates.dossiers_per_day * p.population_millions / 3.0
        all_units = catalog.units(code, communes)
        self.centre = all_units[0]
        self.by_department = {u.department: u for u in all_units if u.department}
        self.communes = [u for u in all_units if u.level == "commune"]
        unit_rng = random.Random(f"{seed}:{code}:units")
        self.commune_cum = _cumulative([unit_rng.lognormvariate(0, 0.6) for _ in self.communes])
        # Late propensity per unit, log-normal around the mean so rankings are meaningful.
        sigma = 0.8
        mu = math.log(rates.late_mean) - sigma * sigma / 2
        self.late = {u.code: min(0.25, unit_rng.lognormvariate(mu, sigma)) for u in all_units}
        self.officers = {u.code: [_pseudonym(seed, u.code, k) for k in range(6)] for u in all_units}
        self.businesses = [_pseudonym(seed, code, "business", k) for k in range(300)]
        self.procedures = catalog.procedures()
        self.procedure_cum = _cumulative([pr.weight for pr in self.procedures])


def _poisson(rng: random.Random, mean: float) -> int:
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, prod = math.exp(-mean), 0, rng.random()
    while prod > limit:
        k += 1
        prod *= rng.random()
    return k


def _pick(rng: random.Random, cum: list[float]) -> int:
    return bisect.bisect_right(cum, rng.random() * cum[-1])


def day_dossiers(seed: int, model: ProvinceModel, clock: WorkClock, day: int) -> Iterator[Dossier]:
    """The dossiers that reach a province's units on local day `day`, in arrival order."""
    if not clock.is_working_day(day):
        return
    rng = random.Random(f"{seed}:{model.code}:{day}")
    d = date_of_day(day)
    n = _poisson(rng, model.mean_per_day * _WEEKDAY[d.weekday()] * _MONTH[d.month - 1])
    work0 = clock.to_work(day_start(day))
    arrivals = []
    for _ in range(n):
        slot = bisect.bisect_right(_SLOT_CUM, rng.random() * _SLOT_CUM[-1])
        arrivals.append(clock.at_start(work0 + slot * 1800 + rng.randrange(1800)))
    arrivals.sort()
    counters: dict[str, itertools.count[int]] = {}
    yymmdd = d.strftime("%y%m%d")
    for t in arrivals:
        yield _dossier(rng, model, clock, t, yymmdd, counters)


def _dossier(
    rng: random.Random,
    m: ProvinceModel,
    clock: WorkClock,
    arrival: int,
    yymmdd: str,
    counters: dict[str, itertools.count[int]],
) -> Dossier:
    proc = m.procedures[_pick(rng, m.procedure_cum)]
    if proc.level == "commune":
        unit = m.communes[_pick(rng, m.commune_cum)]
        receiving = unit
    else:
        unit = m.by_department[proc.department]
        # Since July 2025 a commune centre may receive provincial procedures (NĐ 118/2025).
        receiving = m.communes[_pick(rng, m.commune_cum)] if rng.random() < 0.15 else m.centre
    seq = next(counters.setdefault(receiving.code, itertools.count(1)))
    common: dict[str, Any] = {"source": m.source, "province": m.code, "unit": unit.code}
    if receiving.code != unit.code:
        common["receiving_unit"] = receiving.code
    common["procedure_code"] = proc.code
    common["procedure_field"] = proc.field_code
    plan = _Lifecycle(rng, m, clock, proc, unit.code)
    plan.run(arrival)
    return Dossier(f"{receiving.code}-{yymmdd}-{seq:04d}", common, plan.steps)


class _Lifecycle:
    """Plans one dossier's steps, phase by phase; every draw comes from the province-day's generator."""

    def __init__(self, rng: random.Random, m: ProvinceModel, clock: WorkClock, proc: Procedure, unit: str) -> None:
        self.rng, self.r, self.clock, self.proc = rng, m.rates, clock, proc
        self.late_propensity = m.late[unit]
        self.officers = m.officers[unit]
        self.businesses = m.businesses
        self.steps: list[Step] = []
        u = rng.random()
        if proc.online_level == "none":
            self.channel = 3 if u < self.r.postal else 1
        else:
            share = self.r.online_full if proc.online_level == "full" else self.r.online_partial
            self.channel = 2 if u < share else 3 if u < share + self.r.postal else 1

    def officer(self) -> str:
        return self.officers[self.rng.randrange(len(self.officers))]

    def run(self, arrival: int) -> None:
        rng, r = self.rng, self.r
        is_business = rng.random() < r.business_applicant
        applicant = {
            "kind": 2 if is_business else 1,
            "id_hash": self.businesses[rng.randrange(len(self.businesses))]
            if is_business
            else f"{rng.getrandbits(128):032x}",
        }
        accepted = self.intake(arrival, applicant)
        if accepted is None:
            return
        due = self.accept(accepted, applicant)
        end, end_type, late = self.process(accepted, due)
        if end is None or end_type != "resolved":
            return
        if late:
            self.apology(accepted, due, end)
        self.result(end, late)

    def intake(self, arrival: int, applicant: dict[str, Any]) -> int | None:
        """Submission (online or postal) and acceptance; None when refused at intake."""
        rng, r = self.rng, self.r
        if self.channel == 1:
            return arrival
        submitted = arrival
        if self.channel == 2 and rng.random() < r.evening_submission:
            submitted = day_start(local_day(arrival)) - rng.randrange(1, 7 * HOUR)  # the evening before
        intake = {"online_level": self.proc.online_level, "channel": self.channel}
        self.steps.append(Step(submitted, "submitted", {**intake, "status": 1, "applicant": applicant}))
        accepted = self.clock.add_work(submitted, 60 + int(rng.expovariate(1 / 5400)))
        if rng.random() < r.intake_rejection:
            self.steps.append(Step(accepted, "rejected", {"status": 3}))
            return None
        return accepted

    def accept(self, accepted: int, applicant: dict[str, Any]) -> int:
        """The receipt, with its due date; returns the due instant."""
        rng, r, proc = self.rng, self.r, self.proc
        value = int(proc.deadline_value) if proc.deadline_value.is_integer() else proc.deadline_value
        due = self.clock.due(accepted, proc.deadline_value, proc.deadline_unit)
        fields: dict[str, Any] = {
            "online_level": proc.online_level,
            "channel": self.channel,
            "deadline": {"value": value, "unit": proc.deadline_unit},
            "due_at": due,
            "status": 2,
            "applicant": applicant,
            "digitized": rng.random() < (r.digitized_online if self.channel == 2 else r.digitized_counter),
            "reused_data": rng.random() < r.reused_data,
        }
        if proc.fee:
            fields["fee"] = proc.fee
        fields["officer"] = self.officer()
        self.steps.append(Step(accepted, "accepted", fields))
        return due

    def process(self, accepted: int, due: int) -> tuple[int | None, str, bool]:
        """Processing, supplementation pauses, payment and the end event: (end, end type, late).

        The end is None when the applicant never answers a supplementation request.
        """
        rng, r, clock = self.rng, self.r, self.clock
        allowed = max(clock.to_work(due) - clock.to_work(accepted), 600)
        supplements = 0
        if rng.random() < r.supplement:
            supplements = 2 if rng.random() < r.second_supplement else 1
        late = supplements > 1 or rng.random() < self.late_propensity
        if late:
            work = allowed + 600 + int(rng.expovariate(1 / (0.25 * allowed + 2 * HOUR)))
        else:
            work = max(300, int(allowed * rng.betavariate(2.2, 2.0)))
        end_u = rng.random()
        end_type = "resolved"
        if end_u < r.withdrawal:
            end_type = "withdrawn"
        elif end_u < r.withdrawal + r.stop:
            end_type = "stopped"
        elif end_u < r.withdrawal + r.stop + r.rejection_after_acceptance:
            end_type = "rejected"
        if end_type != "resolved":
            work = int(work * rng.uniform(0.1, 0.9))

        # Walk the processing time, inserting supplementation pauses (wall clock, not working time).
        cursor, done = accepted, 0
        fractions = sorted(rng.uniform(0.1, 0.7) for _ in range(supplements))
        for i, frac in enumerate(fractions):
            cursor = clock.add_work(cursor, int(work * frac) - done)
            done = int(work * frac)
            self.steps.append(Step(cursor, "supplement_requested", {"status": 5, "officer": self.officers[0]}))
            if i == len(fractions) - 1 and rng.random() < r.unanswered_supplement:
                if rng.random() < 0.5:
                    gone = cursor + rng.randrange(5, 30) * DAY
                    self.steps.append(Step(clock.next_working_instant(gone), "withdrawn", {"status": 7}))
                return None, end_type, late
            pause = min(20 * DAY, max(2 * HOUR, int(rng.expovariate(1 / (3 * DAY)))))
            cursor = cursor + pause if self.channel == 2 else clock.next_working_instant(cursor + pause)
            self.steps.append(Step(cursor, "supplement_received", {"status": 4}))
        end = clock.add_work(cursor, work - done)

        for _ in range(1 + (rng.random() < 0.5) + (allowed > 5 * WORK_DAY)):
            at = clock.add_work(accepted, int(work * rng.uniform(0.05, 0.95)))
            if at < end:
                self.steps.append(Step(at, "processing", {"status": 4, "officer": self.officer()}))
        if self.proc.fee and end_type == "resolved":
            self.payment(accepted, end)
        if end_type != "resolved":
            status = {"withdrawn": 7, "stopped": 8, "rejected": 3}[end_type]
            self.steps.append(Step(end, end_type, {"status": status}))
        return end, end_type, late

    def payment(self, accepted: int, end: int) -> None:
        """Fees: paid at the counter on acceptance, or requested and paid (mostly online) before the end."""
        rng, r = self.rng, self.r
        if self.channel == 1:
            paid_at, paid_online = accepted + rng.randrange(60, 600), rng.random() < r.paid_online_counter
        else:
            asked = self.clock.add_work(accepted, rng.randrange(300, 3 * HOUR))
            self.steps.append(Step(asked, "payment_requested", {"status": 6, "fee": self.proc.fee}))
            paid_at = asked + int(rng.expovariate(1 / (6 * HOUR)))
            paid_online = rng.random() < r.paid_online_online
        self.steps.append(Step(min(paid_at, end - 60), "payment_completed", {"status": 4, "paid_online": paid_online}))

    def apology(self, accepted: int, due: int, end: int) -> None:
        """A late dossier's apology: mostly at least a working day before due, sometimes too late, or none."""
        rng, r, clock = self.rng, self.r, self.clock
        a = rng.random()
        w_due = clock.to_work(due)
        if a < r.apology_timely:
            w_apology = w_due - rng.randrange(WORK_DAY, 2 * WORK_DAY)
        elif a < r.apology_timely + r.apology_untimely:
            w_apology = w_due - rng.randrange(0, 4 * HOUR)
        else:
            return
        if w_apology > clock.to_work(accepted):
            promised = clock.add_work(end, rng.randrange(0, 2 * WORK_DAY))
            self.steps.append(Step(clock.at_start(w_apology), "apology_issued", {"due_at": promised}))

    def result(self, end: int, late: bool) -> None:
        """Resolution, return of the result, and perhaps a rating."""
        rng, r, clock, channel = self.rng, self.r, self.clock, self.channel
        e_result = rng.random() < (r.e_result_online if channel == 2 else r.e_result_counter)
        self.steps.append(Step(end, "resolved", {"status": 9, "electronic_result": e_result}))
        if channel == 2 and e_result:
            returned, how = end + rng.randrange(60, 1800), 2
        elif channel == 3 or rng.random() < 0.08:
            returned, how = clock.next_working_instant(end + rng.randrange(1, 4) * DAY), 3
        else:
            returned, how = clock.add_work(end, int(rng.expovariate(1 / WORK_DAY))), 1
        self.steps.append(Step(returned, "returned", {"status": 10, "return_channel": how}))
        if rng.random() < (r.rating_online if channel == 2 else r.rating_counter):
            v = rng.random()
            bad = r.dissatisfied_if_late if late else r.dissatisfied
            rating = "dissatisfied" if v < bad else "neutral" if v < bad + r.neutral else "satisfied"
            self.steps.append(Step(returned + rng.randrange(60, 2 * DAY), "rated", {"rating": rating}))
