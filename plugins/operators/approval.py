"""DeploymentApprovalOperator: a person approves or rejects the deployment in Airflow's Required actions.

An Airflow human-in-the-loop task (HITLOperator): on 3.3 `execute` writes the question and the task
parks in state `awaiting_input` - no worker slot, no trigger - until someone answers in the UI (Browse >
Required actions, or the task's Required actions tab) or over the REST API
(`PATCH /api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/-1/hitlDetails`), or until the
scheduler's timeout sweep applies `approvals.on_timeout`. It then resumes in `execute_complete`.

An answer given within seconds of the question meets an Airflow 3.3 scheduler race (the same as
apache/airflow#71580 for deferral, here for awaiting_input): the executor's late "success" event for the
process that parked the task reaches the scheduler when the resumed task is already queued or running,
and the scheduler fails it "externally" - the answer is then lost with that try. So the task has a retry
(deploy_dag.graph), and a retry first looks for the answer before asking again, over the REST API
(connection `airlock_api`, as the run note does; the Task SDK's own HITL read is not served to workers on
3.3.2): on the task instance's question (failed while queued, the task instance keeps its id, and the
answer is there until a new ask clears it), else on the earlier tries' questions. Only when none holds
an answer, or they cannot be read, does it ask again.

The deploy lock is held while the question waits: its Lease is renewed by production writes and waiting
triggers, and an awaiting_input task has neither, so before asking the task makes the run's Lease last
the whole wait (response_timeout + the lease TTL) and shrinks it back to the TTL once answered. Another
run of the service is then refused at its lock (naming this run and until when) instead of taking an
expired lock and deploying over a canary that waits at its weight.

What the person sees is decided by airlock.people (subject, body with the evidence gathered here from
earlier tasks' XComs, who may answer: hotfixes ask the hotfix approvers). What the answer does:
Approve - the task succeeds and the run goes on; Reject (by a person or by the timeout) - the task fails
with the decision as its reason, so nothing downstream changes production (before production) or the
rollback restores it (before the canary's last step). The decision - who, when, comment - is pushed
under DECISIONS_KEY for the deployment record, the run note and Slack.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Context, Param
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException, TaskAwaitingInput

from airlock import people
from airlock.durations import format_duration
from airlock.record import decode_json_text, previous_version
from airlock.run_request import RunRequest
from airlock.spec import ServiceSpec, spec_from
from operators.links import DashboardLinkMixin
from operators.request_bound import RequestBound
from operators.xcom_keys import DECISIONS_KEY, FAILURE_REASON_KEY, RETURN_VALUE

ASKED_AT = "asked_at"  # carried from execute to execute_complete in the parked task's next_kwargs

# Where the evidence comes from (field -> "task_id" | "task_id:key" | [those]), set by the DAG graph:
#   preflight  the pre-flight checks' results        staging   staging's deploy/health/smoke/soak
#   plan       the production rollback plan           verdicts  metrics gates, the last one that ran counts
EVIDENCE_FIELDS = ("preflight", "staging", "plan", "verdicts")


def comment_param() -> Param:
    """The question's one form field: why the person decided so (optional, shown in the record)."""
    return Param(
        None,
        type=["null", "string"],
        title="Comment",
        description="Why you decided so: it goes into the deployment record, the run note and Slack.",
        maxLength=1000,
        source="task",
    )


# -- evidence: earlier tasks' XComs -> people.Evidence (pure) --------------------------------------------


def describe_result(task_id: str, value: Any) -> list[str]:
    """One line per result a task returned: 'staging.health: pass - 200 OK in 12 ms'. Results are
    CheckResult / Verdict / health dicts (status or decision, reason), or lists of them."""
    value = decode_json_text(value)
    items = value if isinstance(value, list) else [value]
    lines = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        status = item.get("status") or item.get("decision") or ("pass" if item.get("passed") else None)
        name = item.get("name") or task_id
        reason = str(item.get("reason") or item.get("summary") or "").strip()
        text = f"{name}: {status or 'done'}" + (f" - {reason}" if reason else "")
        lines.append(text[:300])
    return lines


def gather_evidence(
    values: Mapping[str, Mapping[str, Any]],
    request: RunRequest,
    gate: people.Gate,
    container: str | None = None,
) -> people.Evidence:
    """`values`: evidence field (EVIDENCE_FIELDS) -> {task_id: that task's XCom value}, in graph order."""
    preflight = [
        line for task_id, v in (values.get("preflight") or {}).items() for line in describe_result(task_id, v)
    ]
    staging = [
        line for task_id, v in (values.get("staging") or {}).items() for line in describe_result(task_id, v)
    ]
    last_verdict = None
    for task_id, verdict in reversed(list((values.get("verdicts") or {}).items())):
        verdict = decode_json_text(verdict)
        if isinstance(verdict, Mapping) and (verdict.get("decision") or verdict.get("reason")):
            reason = str(verdict.get("reason") or "").strip()
            last_verdict = f"{task_id}: {verdict.get('decision')}" + (f" - {reason}" if reason else "")
            break
    plans = [p for p in map(decode_json_text, (values.get("plan") or {}).values()) if isinstance(p, Mapping)]
    weights = request.canary_weights
    return people.Evidence(
        previous_version=previous_version(plans[0], container) if plans else None,
        preflight=tuple(preflight),
        staging=tuple(staging),
        last_verdict=last_verdict,
        canary_at=weights[-1] if gate == "before_last_canary_step" and weights else None,
    )


def answer_event(detail: Mapping[str, Any]) -> dict[str, Any] | None:
    """A try's HITL detail (REST API) -> the event Airflow resumes the task with, if it was answered."""
    if not detail.get("response_received") or not detail.get("chosen_options"):
        return None
    user = detail.get("responded_by_user")
    return {
        "chosen_options": list(detail["chosen_options"]),
        "params_input": dict(detail.get("params_input") or {}),
        "responded_at": datetime.fromisoformat(str(detail["responded_at"]).replace("Z", "+00:00")),
        "responded_by_user": dict(user) if user else None,
        "timedout": not user,  # only the timeout sweep answers without a user
        ASKED_AT: detail.get("created_at"),
    }


class DeploymentApprovalOperator(DashboardLinkMixin, RequestBound, HITLOperator):
    """Ask the spec's approvers to Approve or Reject this run at `gate` (airlock.people.Gate:
    before_production | before_last_canary_step). Returns the Decision dict when approved."""

    ui_color = "#fff3cd"

    def __init__(
        self,
        *,
        spec: dict[str, Any],
        gate: people.Gate,
        evidence: Mapping[str, str | list[str]] | None = None,
        **kwargs: Any,
    ) -> None:
        if gate not in ("before_production", "before_last_canary_step"):
            raise ValueError(
                f"gate={gate!r} is not an approval; allowed: before_production, before_last_canary_step"
            )
        unknown = sorted(set(evidence or {}) - set(EVIDENCE_FIELDS))
        if unknown:
            raise ValueError(
                f"evidence fields {unknown} are not known; allowed: {', '.join(EVIDENCE_FIELDS)}"
            )
        service_spec = spec_from(spec)
        approvals = service_spec.approvals
        super().__init__(
            # the subject and body are written when the question is asked (they name the version)
            subject=f"Approve the deployment of {service_spec.service} ({people.GATE_TITLES[gate]})",
            options=list(people.APPROVAL_OPTIONS),
            defaults=people.approval_timeout_option(service_spec),
            multiple=False,
            params={people.COMMENT_PARAM: comment_param()},
            response_timeout=approvals.timeout,
            **kwargs,
        )
        self.spec = spec
        self.gate: people.Gate = gate
        self.evidence_sources = dict(evidence or {})

    # -- asking --------------------------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        spec = spec_from(self.spec)
        request = self.run_request
        asks = (
            people.asks_before_production(spec, request)
            if self.gate == "before_production"
            else people.asks_before_last_canary_step(spec, request)
        )
        if not asks:
            raise AirflowSkipException(self._why_not_asked(spec, request))
        earlier = self._earlier_answer(context)
        if earlier is not None:
            return self.execute_complete(context, earlier, asked_at=earlier.pop(ASKED_AT, None))
        evidence = gather_evidence(self._pull_evidence(context["ti"]), request, self.gate, spec.container)
        timeout_option = people.approval_timeout_option(spec)
        approvers = people.approvers(spec, request)
        self.subject = people.approval_subject(self.gate, spec, request)
        self.body = people.approval_body(self.gate, spec, request, evidence, timeout_option)
        self.assigned_users = [{"id": user, "name": user} for user in approvers] or None
        self.notifiers = self._notifiers(spec)
        wait = spec.approvals.timeout.total_seconds()
        self._hold_lock(spec, request, wait, "for the wait for an answer", fail_on_loss=context["ti"])
        who = (
            ", ".join(approvers)
            + (
                " (the hotfix approvers)"
                if request.is_hotfix and spec.approvals.hotfix_approvers is not None
                else ""
            )
            if approvers
            else "anyone allowed to edit this DAG's runs (approvals.approvers is empty)"
        )
        self.log.info(
            "Asking for the %s of %s %s: %s. Who may answer: %s. Answer in Airflow's Required actions (this "
            "task's 'Required Actions' tab) or over the REST API. Waiting up to %s; with no answer by then the "
            "timeout chooses %r (approvals.on_timeout: %s). This task holds no worker slot while it waits.",
            people.GATE_TITLES[self.gate],
            spec.service,
            request.version,
            self.subject,
            who,
            format_duration(spec.approvals.timeout),
            timeout_option,
            spec.approvals.on_timeout,
        )
        self.log.info("What the approvers read:\n%s", self.body)
        asked_at = datetime.now(UTC)
        try:
            super().execute(context)
        except TaskAwaitingInput as parked:
            # when the question was asked travels with the parked task to its resume (how long it waited)
            parked.kwargs = {**(parked.kwargs or {}), ASKED_AT: asked_at.isoformat()}
            raise
        raise RuntimeError(
            "the human-in-the-loop task did not park to wait for its answer (needs Airflow 3.3's awaiting_input)"
        )

    def _earlier_answer(self, context: Context) -> dict[str, Any] | None:
        """On a retry: the answer an earlier try of this task instance got, as a resume event (None: none
        got one, or they cannot be read). See the module docstring for why a retry can follow an answer."""
        ti = context["ti"]
        try_number = int(getattr(ti, "try_number", 1) or 1)
        if try_number <= 1:
            return None
        # None: the task instance's question as it is now (an earlier try asked it under the same id),
        # then the earlier tries' questions (kept with the task instance's history), newest first
        for earlier in [None, *range(try_number - 1, 0, -1)]:
            where = f"try {earlier}'s question" if earlier else "this task's question"
            try:
                detail = self.read_answer(ti.dag_id, ti.run_id, ti.task_id, earlier)
            except Exception as exc:
                self.log.warning("Try %d: could not read %s (%s).", try_number, where, exc)
                continue
            event = answer_event(detail)
            if event is not None:
                self.log.warning(
                    "Try %d: %s was answered (%s) but Airflow failed the resumed task before it could act "
                    "on the answer (a scheduler race, see operators/approval.py). Acting on that answer now "
                    "instead of asking again.",
                    try_number,
                    where,
                    ", ".join(event["chosen_options"]),
                )
                return event
        self.log.info("Try %d: no earlier answer to this question was found; asking again.", try_number)
        return None

    def read_answer(self, dag_id: str, run_id: str, task_id: str, try_number: int | None) -> dict[str, Any]:
        """GET a question and its answer from the public REST API (connection `airlock_api`): the task
        instance's current one, or that of try `try_number`; {} when there is none."""
        import requests
        from airflow.sdk import BaseHook

        # the run note's connection and login (operators.record); a missing connection raises
        from operators.record import API_CONN_ID, _base_url, _token

        conn = BaseHook.get_connection(API_CONN_ID)
        base = _base_url(conn)
        url = (
            f"{base}/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}/taskInstances/"
            f"{quote(task_id, safe='')}/-1/hitlDetails" + (f"/tries/{try_number}" if try_number else "")
        )
        response = requests.get(url, headers={"Authorization": f"Bearer {_token(conn, base)}"}, timeout=10)
        if response.status_code == 404:  # no such question
            return {}
        response.raise_for_status()
        return dict(response.json())

    # -- the deploy lock while the question waits ------------------------------------------------------

    def _hold_lock(
        self, spec: ServiceSpec, request: RunRequest, wait_s: float, why: str, fail_on_loss: Any = None
    ) -> None:
        """Make the run's Lease last `wait_s` + its TTL from now (0: back to the TTL). A lost lock fails the
        task when `fail_on_loss` (the task instance, before asking: the run's next write would be fenced
        anyway); a Kubernetes error only warns - the question is asked, with the lock as short as before."""
        from airlock.kube.lock import LockLost, fenced_message, lease_decision, renewed_body
        from operators.lease import fenced_dag, lease_ref

        if request.dry_run or not fenced_dag(self):
            return
        ref = lease_ref(spec, request.run_id)
        seconds = int(wait_s) + ref.ttl_seconds
        try:
            kube = self.lock_kube(spec)
            for _ in range(3):
                now = datetime.now(UTC)
                lease = kube.get("leases", ref.namespace, ref.name)
                decision = lease_decision(lease, ref.holder, now, seconds)
                if decision.action == "lost":
                    raise LockLost(fenced_message(ref, decision.reason))
                if lease is None:
                    self.log.warning("No deploy lock Lease %s/%s to hold %s.", ref.namespace, ref.name, why)
                    return
                try:
                    kube.replace(
                        "leases",
                        ref.namespace,
                        ref.name,
                        renewed_body(lease, ref.holder, now, seconds),
                        what=f"(hold deploy lock {why})",
                    )
                except Exception as exc:
                    if getattr(exc, "status", None) == 409:  # written meanwhile: read and decide again
                        continue
                    raise
                self.log.info(
                    "Deploy lock %s/%s held by this run for %s from now (%s)%s.",
                    ref.namespace,
                    ref.name,
                    format_duration(seconds),
                    why,
                    f": another run of {spec.service} is refused at its lock meanwhile"
                    if wait_s
                    else ", renewed by the run's next writes as usual",
                )
                return
            raise LockLost(fenced_message(ref, "the lease changed under us three times in a row"))
        except LockLost as exc:
            self.log.error("%s", exc)
            if fail_on_loss is not None:
                fail_on_loss.xcom_push(key=FAILURE_REASON_KEY, value=str(exc))
                raise AirflowFailException(str(exc)) from exc
        except Exception as exc:
            self.log.warning(
                "Could not hold the deploy lock %s (%s): it stays as long as it was (%s), and another run could "
                "take it if nothing renews it.",
                why,
                exc,
                format_duration(ref.ttl_seconds),
            )

    def lock_kube(self, spec: ServiceSpec) -> Any:
        """The production cluster's client for the Lease (the same connection the lock task uses)."""
        from airlock.kube.api import Kube
        from operators._kube import api_client

        return Kube(api_client(spec, "production"), log=self.log)

    def _why_not_asked(self, spec: ServiceSpec, request: RunRequest) -> str:
        if request.dry_run:
            return "dry run: nothing will be changed, so there is nothing to approve"
        if self.gate == "before_last_canary_step" and request.strategy != "canary":
            return f"only a canary has a last step to approve; this run uses {request.strategy}"
        return f"approvals.{self.gate} is off in the spec: no approval asked"

    def _pull_evidence(self, ti: Any) -> dict[str, dict[str, Any]]:
        values: dict[str, dict[str, Any]] = {}
        for field, source in self.evidence_sources.items():
            refs = source if isinstance(source, list) else [source]
            values[field] = {ref.partition(":")[0]: self._pull_one(ti, ref) for ref in refs}
        return values

    @staticmethod
    def _pull_one(ti: Any, ref: str) -> Any:
        task_id, _, key = ref.partition(":")
        try:
            return ti.xcom_pull(task_ids=task_id, key=key or RETURN_VALUE)
        except Exception:  # evidence is best effort: a missing XCom must not stop the question
            return None

    def _notifiers(self, spec: ServiceSpec) -> list[Any]:
        if not spec.notify.slack_connection:
            self.log.info(
                "Slack is off for %s (notify.slack_connection): nobody is told in Slack.", spec.service
            )
            return []
        from notifiers.slack import ApprovalNeededNotifier  # lazy: the slack provider only when asking

        return [ApprovalNeededNotifier.for_spec(spec)]

    # -- the answer ----------------------------------------------------------------------------------

    def execute_complete(self, context: Context, event: dict[str, Any], **kwargs: Any) -> Any:
        payload = super().execute_complete(context, event)  # Airflow's own checks of the answer
        asked = kwargs.get(ASKED_AT)
        decision = people.decision_from_response(
            gate=self.gate,
            task_id=self.task_id,
            chosen_options=list(payload["chosen_options"]),
            responded_by=payload.get("responded_by_user"),
            responded_at=payload["responded_at"],
            params_input=payload.get("params_input"),
            timed_out=bool(event.get("timedout")),
            asked_at=datetime.fromisoformat(asked) if asked else None,
            options=list(people.APPROVAL_OPTIONS),
        )
        ti = context["ti"]
        ti.xcom_push(key=DECISIONS_KEY, value=[decision.to_dict()])
        self.log.info("Decision: %s", decision.sentence())
        if self.has_request:  # answered: the lock goes back to its usual length (renewed by the writes)
            self._hold_lock(spec_from(self.spec), self.run_request, 0, "now that the question is answered")
        if decision.action == "approve":
            self.log.info("Approved: the deployment goes on (%s).", people.MEANING[people.APPROVE])
            return decision.to_dict()
        reason = decision.sentence()
        ti.xcom_push(key=FAILURE_REASON_KEY, value=reason)
        if self.gate == "before_production":
            self.log.error("Rejected: production is not touched; the run stops here. %s", reason)
        else:
            self.log.error(
                "Rejected: the canary is not promoted; the rollback restores production. %s", reason
            )
        raise AirflowFailException(reason)


__all__: Sequence[str] = ["DeploymentApprovalOperator", "describe_result", "gather_evidence"]
