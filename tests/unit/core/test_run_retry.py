"""airlock.run_retry: which retries (Airflow clears) of a failed run resume on a consistent state."""

from __future__ import annotations

from airlock.run_retry import EnvironmentNow, RetryNote, kept_work, refusal, retry_note, to_rerun

ORDER = [
    "validate",
    "preflight.window",
    "preflight.checks",
    "acquire_lock",
    "announce_start",
    "production.record_rollback_plan",
    "production.choose_strategy",
    "production.canary.step_1",
    "production.canary.analysis_1",
    "production.canary.promote",
    "validation.health",
    "validation.smoke",
    "complete.mark_deployed",
    "rollback",
    "record",
    "announce_outcome",
    "release_lock",
    "outcome",
]
FAILED_IN_VALIDATION = {
    **dict.fromkeys(ORDER, "success"),
    "validation.health": "failed",
    "validation.smoke": "upstream_failed",
    "complete.mark_deployed": "upstream_failed",
}
ROLLED_BACK = EnvironmentNow("production", restored=True, previous_version="v1")
STILL_NEW = EnvironmentNow("production", restored=False, previous_version="v1")


def cleared(states: dict[str, str | None], first: str) -> dict[str, str | None]:
    """What Airflow's Clear with Downstream leaves: `first` and every later task without a state (the
    bookkeeping tasks are downstream of everything)."""
    after = ORDER[ORDER.index(first) :]
    out: dict[str, str | None] = dict(states)
    for task in after + ["acquire_lock", "rollback", "record", "announce_outcome", "release_lock", "outcome"]:
        out[task] = None
    return out


def test_resuming_validation_after_the_rollback_is_refused_and_names_the_task_to_clear():
    states = cleared(FAILED_IN_VALIDATION, "validation.health")
    rerun = to_rerun(states, ORDER)
    assert rerun == ["validation.health", "validation.smoke", "complete.mark_deployed"]
    why = refusal([ROLLED_BACK], states, rerun)
    assert why is not None
    assert "resume at validation.health" in why
    assert "back on this run's rollback plan (v1)" in why
    assert "production.canary.promote" in why  # the kept task whose work the rollback undid
    assert '"task_ids": ["production.record_rollback_plan"]' in why


def test_resuming_a_canary_analysis_whose_canary_the_rollback_removed_is_refused():
    states = {
        **FAILED_IN_VALIDATION,
        "production.canary.analysis_1": "failed",
        "production.canary.promote": "upstream_failed",
        "validation.health": "upstream_failed",
    }
    states = cleared(states, "production.canary.analysis_1")
    why = refusal([ROLLED_BACK], states, to_rerun(states, ORDER))
    assert why is not None and "resume at production.canary.analysis_1" in why
    assert "production.canary.step_1" in why


def test_retrying_from_the_environments_first_task_is_safe():
    states = cleared(FAILED_IN_VALIDATION, "production.record_rollback_plan")
    assert refusal([ROLLED_BACK], states, to_rerun(states, ORDER)) is None


def test_retrying_a_step_that_wrote_nothing_kept_is_safe():
    """A failed canary step re-run from itself: the kept tasks (plan, branch) changed nothing."""
    states = {
        **FAILED_IN_VALIDATION,
        "production.canary.step_1": "failed",
        "production.canary.analysis_1": "upstream_failed",
        "production.canary.promote": "upstream_failed",
        "validation.health": "upstream_failed",
    }
    states = cleared(states, "production.canary.step_1")
    assert kept_work("production", states) == []
    assert refusal([ROLLED_BACK], states, to_rerun(states, ORDER)) is None


def test_a_production_that_still_carries_the_run_is_resumed_where_cleared():
    """E.g. the outcome announcement failed after a deployment: production runs the new version."""
    states = cleared({**dict.fromkeys(ORDER, "success"), "announce_outcome": "failed"}, "announce_outcome")
    assert refusal([STILL_NEW], states, to_rerun(states, ORDER)) is None


def test_a_retry_that_only_rebuilds_the_record_is_not_a_resume():
    states = cleared(FAILED_IN_VALIDATION, "record")
    assert to_rerun(states, ORDER) == []
    assert refusal([ROLLED_BACK], states, []) is None


def test_staging_restored_refuses_a_resume_inside_staging():
    order = [
        "staging.record_rollback_plan",
        "staging.deploy",
        "staging.health",
        "staging.smoke",
        "staging.restore",
    ]
    states: dict[str, str | None] = {
        "staging.record_rollback_plan": "success",
        "staging.deploy": "success",
        "staging.health": None,
        "staging.smoke": None,
        "staging.restore": None,
        "production.record_rollback_plan": None,
    }
    env = EnvironmentNow("staging", restored=True, previous_version="v1")
    why = refusal([env], states, to_rerun(states, order))
    assert why is not None and "staging.record_rollback_plan" in why and "staging.deploy" in why


def test_the_note_says_which_attempt_and_what_the_last_record_said():
    note = retry_note(
        3, ["production.record_rollback_plan", "validation.health"], {"outcome": "rolled_back", "reason": "x"}
    )
    assert note.describe() == (
        "retry (attempt 3) from production.record_rollback_plan, after attempt 1 ended rolled back"
    )
    assert RetryNote.from_dict(note.to_dict()) == note
    assert note.to_dict()["rerun_from"] == "production.record_rollback_plan"
    again = retry_note(4, [], {"outcome": "succeeded", "attempt": 3})
    assert again.describe() == "retry (attempt 4), after attempt 3 ended succeeded"
    assert retry_note(2, [], None).describe() == "retry (attempt 2)"
