"""Feeding stored results to the pure flag evaluation (domain.flagging): loads a patient's
rules, history, baseline, infusion periods and therapy episodes in a fixed number of queries,
and writes the outcome onto the result objects (the caller saves them)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from dateutil.relativedelta import relativedelta
from django.db.models import Q

from monitoring.domain import flagging, therapy_rules
from monitoring.models import LabResult
from monitoring.results.rule_cache import flag_rules
from monitoring.results.therapies_in_force import episodes_of, spans_for
from patients.models import InfusionCourse, Patient

# A platelet dip is expected in the infusion week and up to 2 months after (clinical rules 3).
DIP_MONTHS_AFTER_COURSE = 2


@dataclass(frozen=True)
class PatientFlagData:
    rules: Sequence[flagging.FlagRule]
    baseline_before: date | None  # course 1's first infusion: baseline results are before it
    dip_periods: Sequence[tuple[date, date]]
    # The patient's therapy episodes, for the rules of one therapy (domain.therapy_rules).
    episodes: Sequence[therapy_rules.EpisodeSpan] = ()

    def therapies_on(self, day: date) -> dict[str, date]:
        return therapy_rules.in_force(self.episodes, day)


def patient_flag_data(patient: Patient, courses=None, rules=None, episodes=None) -> PatientFlagData:
    """Rules, course facts and therapy episodes for a patient: two queries, and one more for
    a patient with other therapies (Patient.other_therapies); none for what is given
    (`episodes`: episodes_of's answer for many patients)."""
    if courses is None:
        courses = InfusionCourse.objects.filter(patient=patient)
    courses = sorted(
        (c for c in courses if c.status != InfusionCourse.Status.CANCELLED),
        key=lambda c: c.number,
    )
    course_one = courses[0].first_infusion_date if courses else None
    if episodes is None:
        episodes = episodes_of([patient])
    return PatientFlagData(
        rules=flag_rules() if rules is None else rules,
        baseline_before=course_one,
        episodes=spans_for(patient, course_one, episodes),
        dip_periods=[
            (
                c.first_infusion_date,
                c.last_infusion_date + relativedelta(months=DIP_MONTHS_AFTER_COURSE),
            )
            for c in courses
        ],
    )


def flag_data_of(patients: Iterable[Patient]) -> dict[int, PatientFlagData]:
    """patient_flag_data for many patients: the rules once, every course in one query, and
    the episodes of those with other therapies in one more (none if no patient has any)."""
    patients = list(patients)
    rules = flag_rules()
    courses: dict[int, list[InfusionCourse]] = defaultdict(list)
    for course in InfusionCourse.objects.filter(patient_id__in=[p.pk for p in patients]):
        courses[course.patient_id].append(course)
    episodes = episodes_of(patients)
    return {
        patient.pk: patient_flag_data(patient, courses[patient.pk], rules, episodes)
        for patient in patients
    }


def reading_of(result: LabResult) -> flagging.Reading:
    analyte = result.analyte
    low, high = result.reference_range
    return flagging.Reading(
        analyte=analyte.code,
        value=result.canonical_value,
        sample_date=result.sample_collected_on,
        reference_low=low,
        reference_high=high,
        value_tier=flagging.Tier(result.value_tier),
        label=analyte.grade_label(result.canonical_value),
        comparator=result.comparator,
    )


def _order(result: LabResult) -> tuple:
    # Unsaved results come after stored ones of the same day.
    return (result.sample_collected_on, result.pk is not None, result.pk or 0)


def results_evaluate(
    *, patient: Patient, results: Iterable[LabResult], data: PatientFlagData | None = None
) -> list[LabResult]:
    """Flag `results` (new or changed, not yet saved) against the patient's other current
    results, in date order so each sees the ones before it. Returns them, updated in memory.
    One query whatever the history's length, plus two when `data` is not given."""
    results = list(results)
    if not results:
        return []
    data = data or patient_flag_data(patient)
    stored = stored_results_of(
        [patient.pk],
        analyte_ids={result.analyte_id for result in results},
        dates={result.sample_collected_on for result in results},
    )
    return results_evaluate_with(results=results, stored=stored, data=data)


def stored_results_of(patient_ids, *, analyte_ids, dates) -> list[LabResult]:
    """The current results a flag of these analytes on these days may look at, for many
    patients in one query: the history of the analytes, and every result of those days (the
    combination rules read the same sample's other results)."""
    return list(
        LabResult.objects.current()
        .filter(patient_id__in=patient_ids)
        .filter(Q(analyte_id__in=analyte_ids) | Q(sample_collected_on__in=dates))
        .select_related("analyte")
        .order_by("sample_collected_on", "pk")
    )


def results_evaluate_with(
    *, results: Sequence[LabResult], stored: Iterable[LabResult], data: PatientFlagData
) -> list[LabResult]:
    """results_evaluate over one patient's `stored` results, read already (no query). A stored
    result that is among `results` (being changed) counts as its changed self only."""
    results = sorted(results, key=_order)
    changing = {result.pk for result in results if result.pk}
    analyte_ids = {result.analyte_id for result in results}
    dates = {result.sample_collected_on for result in results}
    history: dict[int, list[LabResult]] = defaultdict(list)
    same_day: dict[date, dict[str, flagging.Reading]] = defaultdict(dict)
    for earlier in sorted(stored, key=_order):
        if earlier.pk in changing:
            continue
        if earlier.analyte_id in analyte_ids:
            history[earlier.analyte_id].append(earlier)
        if earlier.sample_collected_on in dates:
            same_day[earlier.sample_collected_on][earlier.analyte.code] = reading_of(earlier)
    for result in results:
        same_day[result.sample_collected_on][result.analyte.code] = reading_of(result)

    for result in results:
        series = history[result.analyte_id]
        before = [r for r in series if _order(r) < _order(result)]
        context = flagging.Context(
            previous=[reading_of(r) for r in reversed(before)],
            baseline=_baseline(before, data.baseline_before, result.sample_collected_on),
            same_sample={
                code: reading
                for code, reading in same_day[result.sample_collected_on].items()
                if code != result.analyte.code
            },
            expected_dip_periods=data.dip_periods,
            therapies=data.therapies_on(result.sample_collected_on),
        )
        outcome = flagging.evaluate(reading_of(result), context, data.rules)
        result.tier = outcome.tier.value
        result.value_tier = outcome.value_tier.value
        result.reasons = list(outcome.reasons)
        result.next_action = outcome.next_action
        result.rationale = "\n\n".join(outcome.rationales)
        series.append(result)
        series.sort(key=_order)
    return results


def _baseline(
    before: Sequence[LabResult], course_one: date | None, sample: date
) -> flagging.Reading | None:
    """The latest result before course 1's first infusion; none before course 1 itself."""
    if course_one is None or sample < course_one:
        return None
    candidates = [r for r in before if r.sample_collected_on < course_one]
    return reading_of(candidates[-1]) if candidates else None
