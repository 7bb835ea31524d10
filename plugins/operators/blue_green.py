"""Blue-green operators: deploy the new colour (+ preview Service), switch traffic, retire the old colour.

See airlock.kube.blue_green for the colour scheme (blue = the service's own Deployment, green =
`<deployment>-green`, alternating; a plain Deployment is adopted as blue once, without restarting it:
the live Service is pinned to its current pods).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import Context

from airlock.kube import blue_green, rolling
from operators._kube import KubeOperator
from triggers.lease_keeper import LeaseKeepingTimer


class BlueGreenDeployOperator(KubeOperator):
    """Put the new version on the inactive colour, wait until ready, and expose it on `<service>-preview`.

    No production traffic reaches the new colour: the live Service keeps selecting the active colour.
    Returns the ColourDeploy (airlock.kube.blue_green) with its preview Service.
    """

    def execute(self, context: Context) -> Any:
        spec = self.service_spec
        kube = self.kube()
        if blue_green.adopt_blue(kube, spec, self.namespace) and not kube.dry_run:
            # the Service is pinned to blue's current ReplicaSet: wait until all of blue's pods are in it
            return self.wait_rollout(context, spec.deployment, "after_adoption")
        return self.after_adoption(context, event=None)

    def after_adoption(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        if event is not None:
            self.check_rollout_event(event, context)
        spec = self.service_spec
        kube = self.kube()
        if not kube.dry_run:
            blue_green.pin_service_to_blue(kube, spec, self.namespace)
        result = blue_green.deploy_new_colour(kube, spec, self.namespace, self.image(), self.cause(context))
        if result.already_active:
            return result.but(status="already_live").to_dict()
        if kube.dry_run:
            blue_green.ensure_preview_service(kube, spec, self.namespace, result.colour)
            return result.but(status="dry_run").to_dict()
        return self.wait_rollout(context, result.deployment, "execute_complete", {"result": result.to_dict()})

    def execute_complete(
        self, context: Context, event: dict[str, Any] | None = None, result: dict[str, Any] | None = None
    ) -> Any:
        deployed = blue_green.ColourDeploy.from_dict(self.resumed(event, "result", result))
        self.check_rollout_event(event, context)
        preview = blue_green.ensure_preview_service(
            self.kube(), self.service_spec, self.namespace, deployed.colour
        )
        self.log.info(
            "%s is ready and reachable on preview service %s (no production traffic yet)",
            deployed.colour,
            preview["name"],
        )
        return deployed.but(preview_service=preview["name"], status="ready").to_dict()


class BlueGreenSwitchOperator(KubeOperator):
    """Switch the live Service to the new colour in one patch; the preview Service is removed."""

    def execute(self, context: Context) -> Any:
        spec = self.service_spec
        kube = self.kube()
        state = blue_green.colour_state(kube, spec, self.namespace)
        new_colour_name = state["new_deployment"]
        # the colour to switch to is the one running this version (a retry after the switch: already active)
        target = state["active"]
        for colour in blue_green.COLOURS:
            dep = kube.get("deployments", self.namespace, blue_green.deployment_for(spec, colour))
            if (
                dep is not None
                and rolling.image_of(dep, spec.container) == self.image()
                and (dep.get("spec") or {}).get("replicas", 1)
            ):
                target = colour
                break
        else:
            if not kube.dry_run:
                raise RuntimeError(
                    f"no colour runs {self.image()}; deploy it first (BlueGreenDeployOperator)"
                )
            target = state["new"]
        switched = blue_green.switch_traffic(kube, spec, self.namespace, target)
        blue_green.remove_preview_service(kube, spec, self.namespace)
        self.log.info(
            "traffic of service %s now goes to %s (%s); previously %s",
            spec.k8s_service,
            target,
            blue_green.deployment_for(spec, target),
            state["active"],
        )
        return blue_green.TrafficSwitch(
            colour=target,
            previous_colour=state["active"] if target != state["active"] else blue_green.other(target),
            selector_before=switched["from"],
            selector=switched["to"],
            changed=switched["changed"],
            new_deployment=new_colour_name,
        ).to_dict()


class BlueGreenFinalizeOperator(KubeOperator):
    """Keep the old colour for `strategy.blue_green.keep_old_for` (deferred), then scale it to 0."""

    template_fields = ("plan",)

    def __init__(self, *, plan: Any = None, keep_old_for: timedelta | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        self.keep_old_for = keep_old_for

    def _delay(self) -> timedelta:
        return (
            self.keep_old_for
            if self.keep_old_for is not None
            else self.service_spec.strategy.blue_green.keep_old_for
        )

    def execute(self, context: Context) -> Any:
        delay = self._delay()
        if self.is_dry_run:
            return self.execute_complete(context)
        if delay.total_seconds() > 0:
            self.log.info(
                "keeping the old colour for %s before scaling it to 0 (deferred; no worker held)", delay
            )
            self.defer(
                trigger=LeaseKeepingTimer(delay.total_seconds(), self.lease_dict()),  # lock renewed
                method_name="execute_complete",
                timeout=delay + timedelta(minutes=10),
            )
        return self.execute_complete(context)

    def execute_complete(self, context: Context, event: Any = None) -> Any:
        spec = self.service_spec
        kube = self.kube()
        state = blue_green.colour_state(kube, spec, self.namespace)
        old = state["new_deployment"]  # after the switch, the inactive colour is the old one
        if kube.get("deployments", self.namespace, old) is None:
            return blue_green.ColourRetired(None, None, changed=False).to_dict()
        changed = rolling.scale(kube, self.namespace, old, 0)
        self.log.info(
            "old colour %s (%s) %s", state["new"], old, "scaled to 0" if changed else "already at 0"
        )
        return blue_green.ColourRetired(old, state["new"], changed).to_dict()
