"""For tests: the plugin author's checks, a TensorFlow-free fake model, a synthetic workspace.

* ``check_encoder``, ``check_classifier`` (``interestkit.testing.checks``), ``check_fusion``
  (``interestkit.testing.fusions``) and ``check_import_cost``
  (``interestkit.testing.process``): contract checks a plugin author runs from their own tests.
* ``FakeInterestModel``: deterministic probabilities without TensorFlow, loadable by the
  ranking pipeline, the hybrid model and the server (``interestkit.testing.fakes``).
* ``make_workspace`` and friends: synthetic captions, photos and users
  (``interestkit.testing.synthetic``).
"""

from .checks import check_classifier, check_encoder, temporary_store
from .fakes import FakeInterestModel
from .fusions import check_fusion
from .process import check_import_cost, load_in_fresh_process

__all__ = ["FakeInterestModel", "check_classifier", "check_encoder", "check_fusion", "check_import_cost",
           "load_in_fresh_process", "temporary_store"]
