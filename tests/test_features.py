"""Text features and the unit finder."""

import numpy as np
import pytest

from rnnviz.core.tasks import load_corpus
from rnnviz.studies.features import (
    FEATURES,
    after_space,
    inside_quotes,
    position_in_line,
    position_in_word,
    rank_units,
    unit_correlations,
    vowel_or_consonant,
)


def test_inside_quotes_describes_the_state_after_each_character():
    text = 'a "bc" d'
    assert inside_quotes(text).tolist() == [0, 0, 1, 1, 1, 0, 0, 0]


def test_positions_in_line_and_word():
    assert position_in_line("ab\ncd").tolist() == [1, 2, 0, 1, 2]
    assert position_in_word("to be.").tolist() == [1, 2, 0, 1, 2, 0]
    assert after_space("a b\n").tolist() == [0, 1, 0, 1]


def test_vowel_feature_leaves_out_non_letters():
    values = vowel_or_consonant("Ab, e")
    assert values[0] == 1 and values[1] == 0 and values[4] == 1
    assert np.isnan(values[2]) and np.isnan(values[3])


def test_every_feature_covers_the_corpus():
    corpus = load_corpus()
    for feature in FEATURES.values():
        values = feature.compute(corpus)
        assert values.shape == (len(corpus),)
        assert np.nanstd(values) > 0, f"{feature.key} never changes on the notebook"


def test_correlations_equal_numpy_and_skip_undefined_positions():
    rng = np.random.default_rng(0)
    states = rng.normal(size=(200, 5))
    feature = rng.normal(size=200)
    feature[::7] = np.nan
    keep = ~np.isnan(feature)
    expected = [np.corrcoef(states[keep, u], feature[keep])[0, 1] for u in range(5)]
    np.testing.assert_allclose(unit_correlations(states, feature), expected, atol=1e-12)


def test_a_constant_unit_scores_zero_not_nan():
    states = np.column_stack([np.ones(10), np.arange(10.0)])
    r = unit_correlations(states, np.arange(10.0))
    assert r[0] == 0 and r[1] == pytest.approx(1.0)


def test_finder_ranks_planted_units_by_strength_either_sign():
    rng = np.random.default_rng(1)
    feature = inside_quotes(load_corpus())
    states = rng.normal(size=(len(feature), 6))
    states[:, 4] = -feature + 0.1 * rng.normal(size=len(feature))  # falls with the feature
    states[:, 2] = feature + 1.0 * rng.normal(size=len(feature))  # weaker
    ranking = rank_units(states, feature)
    assert [s.unit for s in ranking[:2]] == [4, 2]
    assert ranking[0].correlation < -0.9 and \
        0 < ranking[1].correlation < ranking[0].correlation * -1
    assert len(rank_units(states, feature, top=3)) == 3


def test_shapes_must_agree():
    with pytest.raises(ValueError, match="time axis"):
        unit_correlations(np.zeros((5, 2)), np.zeros(4))
