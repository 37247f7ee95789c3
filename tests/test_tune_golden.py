"""The tuner's behaviour is pinned: a fixed set of studies (every sampler, coarse-to-fine,
caviar with each scheduler, PBT, panda; 1 and 2 workers) must decide and record exactly what
``fixtures/golden_tune.json`` holds — recorded before the tuner core was put in layers."""

import json

import pytest

from golden_studies import CASES, FIXTURE, run_case

GOLDEN = json.loads(FIXTURE.read_text())


def test_the_fixture_covers_every_case():
    assert sorted(GOLDEN) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_study_matches_its_golden_record(name, tmp_path):
    got = run_case(name, str(tmp_path))
    # a round trip through JSON: tuples become lists, as in the fixture
    assert json.loads(json.dumps(got, sort_keys=True)) == GOLDEN[name]
