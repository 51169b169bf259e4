"""One ONNX export cache for the whole session: the MiniLM encoder is exported once, not per test."""

import pytest


@pytest.fixture(scope="session", autouse=True)
def export_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        folder = tmp_path_factory.mktemp("exports")
        patch.setenv("INTERESTKIT_EXPORT_CACHE", str(folder))
        yield folder
