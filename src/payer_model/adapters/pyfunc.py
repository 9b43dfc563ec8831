"""MLflow pyfunc wrapper around a saved bundle (imported only by the registry adapter)."""

from __future__ import annotations

import mlflow.pyfunc
import pandas as pd

from payer_model.modelling.model import load_bundle, rating_frame


class PayerRatingPyfunc(mlflow.pyfunc.PythonModel):
    """Feature rows in, probabilities and rating out (``rating_frame`` columns)."""

    def load_context(self, context) -> None:
        """Load the JSON/UBJSON bundle logged as the ``bundle`` artifact."""
        self.model = load_bundle(context.artifacts["bundle"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:  # noqa: ARG002
        """Ratings for the feature rows (as produced by ``build_features``)."""
        out = rating_frame(self.model, model_input)
        return out[["rating", "p_good", "p_average", "p_bad", "p_not_good", "score"]]


class InvoiceLatePyfunc(mlflow.pyfunc.PythonModel):
    """Invoice snapshot rows in, P(late), band and pay dates out (``InvoiceLateModel``)."""

    def load_context(self, context) -> None:
        """Load the JSON/UBJSON invoice bundle logged as the ``bundle`` artifact."""
        from payer_model.modelling.invoice import InvoiceLateModel

        self.model = InvoiceLateModel.load(context.artifacts["bundle"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:  # noqa: ARG002
        """Predictions for invoice snapshot rows (``features.invoice.invoice_snapshots``)."""
        return self.model.predict(model_input)
