"""The code MLflow stores with the detector model (models-from-code: nothing is pickled)."""

import mlflow

from brain_brr.tracking.model import DetectorModel

mlflow.models.set_model(DetectorModel())
