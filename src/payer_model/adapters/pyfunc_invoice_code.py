"""The code of the logged invoice-level pyfunc model ("models from code": no pickle).

MLflow runs this file when it loads a registered ``invoice_late`` version with
``mlflow.pyfunc.load_model``; it names :class:`payer_model.adapters.pyfunc.InvoiceLatePyfunc`,
whose ``load_context`` reads the JSON/UBJSON bundle logged next to it.
"""

from mlflow.models import set_model

from payer_model.adapters.pyfunc import InvoiceLatePyfunc

set_model(InvoiceLatePyfunc())
