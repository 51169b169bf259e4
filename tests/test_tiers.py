"""The test tiers: an ``integration`` test is left out of the fast tier (``-m "not slow"``)."""

import pytest

import conftest


class Item:
    """What the collection hook reads and writes of a collected test."""

    def __init__(self, *markers):
        self.markers = {m: getattr(pytest.mark, m) for m in markers}

    def get_closest_marker(self, name):
        return self.markers.get(name)

    def add_marker(self, marker):
        self.markers[marker.name] = marker


@pytest.mark.parametrize("markers, slow", [((), False), (("integration",), True), (("realdata",), True),
                                           (("slow",), True), (("parametrize",), False)])
def test_integration_and_realdata_tests_join_the_slow_tier(markers, slow):
    item = Item(*markers)
    conftest.pytest_collection_modifyitems([item])
    assert (item.get_closest_marker("slow") is not None) is slow


def test_the_fast_tier_has_no_spark_test(request):
    """Whatever this run selected: a Spark test is never in a run of -m "not slow"."""
    if "not slow" not in (request.config.option.markexpr or ""):
        pytest.skip("checks a run of the fast tier")
    assert not [i.nodeid for i in request.session.items if i.nodeid.startswith("tests/test_spark.py")]
    assert not [i.nodeid for i in request.session.items if i.get_closest_marker("integration")]
