"""The API reps, managers and ops sign in to (behind API Gateway's Cognito authorizer).

Its routes, access rules and answers live in leadflow.follow_up.api; this handler only
resolves the API Gateway proxy event, with the request's id as the correlation id.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from leadflow.follow_up.api import app
from leadflow.observability import MetricUnit, logger, metrics


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    answer = app.resolve(event, context)
    metrics.add_metric(name=f"ApiAnswered{answer['statusCode'] // 100}xx", unit=MetricUnit.Count, value=1)
    return answer
