"""Logger and Metrics, created once and imported by every handler.

Handlers wear the same decorators in the same order:

    @logger.inject_lambda_context(clear_state=True)
    @metrics.log_metrics
    def handler(event, context): ...

Names, emails and phones are never logged: log ids, counts and field names only.
Tracing is switched on for every function by the stack (Lambda active tracing); the
Powertools Tracer (and the X-Ray SDK behind it) stays out of the cold start.
"""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
metrics = Metrics()

__all__ = ["MetricUnit", "logger", "metrics"]
