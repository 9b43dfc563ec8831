"""The code of the logged pyfunc model ("models from code": no pickle in the registry).

MLflow runs this file when it loads a registered version with ``mlflow.pyfunc.load_model``;
it names the model class (:class:`payer_model.adapters.pyfunc.PayerRatingPyfunc`), whose
``load_context`` reads the JSON/UBJSON bundle logged next to it.
"""

from mlflow.models import set_model

from payer_model.adapters.pyfunc import PayerRatingPyfunc

set_model(PayerRatingPyfunc())
