"""moto, as the local stack runs it, keeps only what its backends keep.

moto's `BaseModel` appends every instance ever made to its class's `instances_tracked` list,
for its dashboard's `/moto-api/data.json`: every SQS message, every DynamoDB item version,
every event, for the life of the process. The local stack does not serve that dashboard, and
a stack that holds 100,000 leads must not grow by every message it passes on, nor make that
page slower with each one. So a process that runs moto's server for leadflow stops it.

The emails SES sent stay listed: moto's SES backend keeps each of them (`sent_messages`) as
long as it lives anyway, so listing them costs one list slot, and what counts the emails sent
through `/moto-api/data.json` (tests, `make bench`) still finds them.
"""

from __future__ import annotations

from typing import Any

_STOPPED = "_leadflow_tracks_no_instances"  # set on the replacement, so a second call sees it is in place


def stop_tracking_instances() -> None:
    """From now on, moto models are not listed for data.json (but sent emails); the lists already there are emptied.

    Idempotent. It changes moto's `BaseModel` for the whole process, as `leadflow local` wants it.
    """
    from moto.core.common_models import BaseModel
    from moto.core.model_instances import model_data
    from moto.ses.models import BulkTemplateMessage, Message, RawMessage, TemplateMessage

    kept: frozenset[type] = frozenset({Message, RawMessage, TemplateMessage, BulkTemplateMessage})

    if not getattr(BaseModel.__new__, _STOPPED, False):

        def new_model(cls: type[BaseModel], *args: Any, **kwargs: Any) -> BaseModel:
            instance = super(BaseModel, cls).__new__(cls)  # as moto's own __new__, less the append
            if cls in kept:
                cls.instances_tracked.append(instance)  # type: ignore[attr-defined]
            return instance

        setattr(new_model, _STOPPED, True)
        setattr(BaseModel, "__new__", staticmethod(new_model))  # noqa: B010 - mypy refuses assigning to a method
    for models in list(model_data.values()):
        for model in list(models.values()):
            if model not in kept:
                model.instances_tracked = []  # type: ignore[attr-defined]
