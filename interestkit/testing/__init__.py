"""For tests: the plugin author's checks, a TensorFlow-free fake model, a synthetic workspace.

* ``check_encoder``, ``check_classifier``, ``check_fusion``: contract checks a plugin
  author runs from their own tests (``interestkit.testing.checks``).
* ``FakeInterestModel``: deterministic probabilities without TensorFlow, loadable by the
  ranking pipeline, the hybrid model and the server (``interestkit.testing.fakes``).
* ``make_workspace`` and friends: synthetic captions, photos and users
  (``interestkit.testing.synthetic``).
"""

from .checks import check_classifier, check_encoder, check_fusion, temporary_store
from .fakes import FakeInterestModel

__all__ = ["FakeInterestModel", "check_classifier", "check_encoder", "check_fusion", "temporary_store"]
