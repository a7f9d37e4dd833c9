"""Logger and Metrics, created once and imported by every handler.

Handlers wear the same decorators in the same order:

    @logger.inject_lambda_context(clear_state=True)
    @metrics.log_metrics
    def handler(event, context): ...

Names, emails and phones are never logged: log ids, counts and field names only.
Tracing is switched on for every function by the stack (Lambda active tracing); the
Powertools Tracer (and the X-Ray SDK behind it) stays out of the cold start.

Every custom metric carries the deployment it comes from, as dimensions read from the
function's environment when the handler runs (not at import, so importing this module needs
no environment; the namespace and service are also taken then if they were unset at import):
`client` and `stage`, beside the `service` dimension Powertools adds. Two clients' figures, or
one client's two stages', never merge into one CloudWatch metric, and the stack's alarms
(infra/constructs/monitoring.py) name exactly these dimensions (`metric_dimensions`).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

# Metric dimension -> the environment variable (set on every function by leadflow.definition) it is read from.
DEPLOYMENT_DIMENSIONS = {"client": "LEADFLOW_CLIENT", "stage": "LEADFLOW_STAGE"}
# Powertools names the dimension it adds from POWERTOOLS_SERVICE_NAME.
SERVICE_DIMENSION = ("service", "POWERTOOLS_SERVICE_NAME")


def metric_dimensions(environment: dict[str, str]) -> dict[str, str]:
    """The dimensions a function with this environment puts on each of its metrics."""
    wanted = [*DEPLOYMENT_DIMENSIONS.items(), SERVICE_DIMENSION]
    return {dimension: environment[variable] for dimension, variable in wanted if environment.get(variable)}


class DeploymentMetrics(Metrics):
    """Powertools Metrics whose every figure carries the client and stage it belongs to."""

    def log_metrics(
        self,
        lambda_handler: Callable[..., Any] | None = None,
        capture_cold_start_metric: bool = False,
        raise_on_empty_metrics: bool = False,
        default_dimensions: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Callable[..., Any]:
        options: dict[str, Any] = {
            "capture_cold_start_metric": capture_cold_start_metric,
            "raise_on_empty_metrics": raise_on_empty_metrics,
            "default_dimensions": default_dimensions,
            **kwargs,
        }
        if lambda_handler is None:  # used as @metrics.log_metrics(...)
            return functools.partial(self.log_metrics, **options)
        handler = lambda_handler

        @functools.wraps(handler)
        def with_deployment_dimensions(event: Any, context: Any, *args: Any, **more: Any) -> Any:
            self.read_environment()
            return handler(event, context, *args, **more)

        return super().log_metrics(with_deployment_dimensions, **options)

    def read_environment(self) -> None:
        """Take the namespace, service and deployment from the environment, now that the function runs."""
        self.namespace = self.namespace or os.environ.get("POWERTOOLS_METRICS_NAMESPACE")
        self.service = self.service or os.environ.get(SERVICE_DIMENSION[1])
        deployment = {
            dimension: value
            for dimension, variable in DEPLOYMENT_DIMENSIONS.items()
            if (value := os.environ.get(variable))
        }
        if deployment:
            self.set_default_dimensions(**deployment)


logger = Logger()
metrics = DeploymentMetrics()

__all__ = ["MetricUnit", "logger", "metric_dimensions", "metrics"]
