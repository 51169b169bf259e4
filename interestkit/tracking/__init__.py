"""MLflow: the store, runs, the registry and the pyfunc flavours. The only package that imports mlflow.

``import interestkit.tracking`` is cheap: MLflow itself loads when a function needs it.
"""

from .models import (load_fusion_document, load_hybrid, load_interest_model, log_hybrid, model_labels,
                     register_interest_model)
from .registry import (
    CHAMPION,
    HYBRID_NAME,
    alias_version,
    champion_version,
    describe_uri,
    list_models,
    parse_model_uri,
    promote,
    promote_command,
    registered_name,
    ui_command,
)
from .runs import (
    EVALUATION_EXPERIMENT,
    comparison_run,
    find_finished_run,
    log_assessment,
    log_comparison,
    log_evaluation,
    log_fusion_fit,
    log_summary_run,
    training_run,
)
from .store import configure, experiment_id, tracking_uri

__all__ = [
    "CHAMPION", "EVALUATION_EXPERIMENT", "HYBRID_NAME", "alias_version", "champion_version", "comparison_run",
    "configure", "describe_uri", "experiment_id", "find_finished_run", "list_models", "load_fusion_document",
    "load_hybrid", "load_interest_model", "log_assessment", "log_comparison", "log_evaluation", "log_fusion_fit", "log_hybrid",
    "log_summary_run", "model_labels", "parse_model_uri", "promote", "promote_command", "register_interest_model", "registered_name", "training_run", "tracking_uri", "ui_command",
]
