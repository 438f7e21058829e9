"""The ``training_backend`` resource: which backend runs the training entrypoint."""

from __future__ import annotations

import dagster as dg
from pydantic import TypeAdapter

from flux_core.settings import BackendKind, FluxSettings
from flux_core.training.backends import LocalTrainingBackend, TrainingBackend
from flux_core.training.sagemaker import SageMakerTrainingBackend


class TrainingBackendResource(dg.ConfigurableResource):
    """``kind`` unset: ``FLUX_TRAINING_BACKEND``, else "local". SageMaker reads
    ``FLUX_SAGEMAKER_*`` and has its own deadline (``MAX_RUNTIME_SECONDS``/``MAX_WAIT_SECONDS``);
    ``timeout_seconds`` bounds the local process only.
    """

    kind: str | None = None  # "local" | "sagemaker" (Dagster config takes no Optional[Literal])
    timeout_seconds: float = 6 * 3600

    def backend(self) -> TrainingBackend:
        # Read when a run asks, not at import: a run sees the environment it was launched with.
        settings = FluxSettings()
        kind = (
            TypeAdapter(BackendKind).validate_python(self.kind)
            if self.kind
            else settings.training_backend
        )
        if kind == "sagemaker":
            return SageMakerTrainingBackend(settings.sagemaker)
        return LocalTrainingBackend(timeout_seconds=self.timeout_seconds)
