"""PAR's reward shapings (losses/shaping.py) against their closed forms (PAR code, trainers/reward_shaper.py)."""

import math

import numpy as np
import pytest

from replicate.training import shaping as S
from replicate.training.rl import ShapingBatch

sig = lambda z: 1 / (1 + math.exp(-z))


def test_par_is_the_mean_bradley_terry_probability_against_the_references():
    r, ref = np.array([0.0, 2.0]), np.array([[0.0, 1.0, -1.0], [2.0, 2.0, 2.0]])
    want0 = (sig(0) + sig(-1) + sig(1)) / 3
    np.testing.assert_allclose(S.par(r, ref), [want0, 0.5])
    np.testing.assert_allclose(S.par(r, ref, k=2.0)[0], (sig(0) + sig(-2) + sig(2)) / 3)
    # bounded in (0, 1), increasing in r, and one reference equal to r gives ½ (P1, principle of the paper)
    big = S.par(np.array([-1e3, 1e3]), np.zeros((2, 1)))
    assert 0.0 <= big[0] < 1e-12 and 1 - 1e-12 < big[1] <= 1.0
    assert np.all(np.diff(S.par(np.linspace(-5, 5, 11), np.zeros((11, 4)))) > 0)


def test_par_is_invariant_to_a_constant_shift_of_the_reward_model():
    """Centering: adding c to every score (policy and references) leaves PAR unchanged, not the sigmoid."""
    rng = np.random.default_rng(0)
    r, ref = rng.normal(size=5), rng.normal(size=(5, 10))
    np.testing.assert_allclose(S.par(r + 7.0, ref + 7.0), S.par(r, ref))
    assert not np.allclose(S.sigmoid(r + 7.0), S.sigmoid(r))


def test_baselines_closed_forms():
    r, ref = np.array([1.0, -0.5]), np.array([[0.0, 2.0], [1.0, 1.0]])
    np.testing.assert_allclose(S.vanilla(r), r)
    np.testing.assert_allclose(S.sigmoid(r, k=3.0), [sig(3.0), sig(-1.5)])
    np.testing.assert_allclose(S.centered(r, ref), [0.0, -1.5])
    np.testing.assert_allclose(S.tanh_centered(r, ref), [(math.tanh(1) + math.tanh(-1)) / 2, math.tanh(-1.5)])
    np.testing.assert_allclose(S.tanh(r), np.tanh(r))
    np.testing.assert_allclose(S.sgfc(r, ref), [(sig(1 - 3 - 0) + sig(1 - 3 - 2)) / 2, sig(-0.5 - 3 - 1)])
    np.testing.assert_allclose(S.ceil(np.array([2.0, 5.0]), 3.0), [2.0, 3.0])
    np.testing.assert_allclose(S.meanstd(np.array([3.0]), 1.0, 2.0), [1.0])
    np.testing.assert_allclose(S.clip(np.array([-5.0, 0.5, 5.0]), 0.0, 1.0), [-1.0, 0.5, 1.0])
    np.testing.assert_allclose(S.minmax(np.array([1.0, 3.0]), 1.0, 5.0), [0.0, 0.5], atol=1e-7)


def test_lsc_uses_the_gaussian_quantile_of_the_references():
    ref = np.array([[0.0, 2.0]])  # mean 1, population std 1; z_0.85 = 1.0364
    q = 1.0 + 1.0364333894937898
    np.testing.assert_allclose(S.lsc(np.array([3.0]), ref), [math.log(sig(3.0 - q))])


def test_length_penalty():
    np.testing.assert_allclose(S.length_penalty([1.0, 1.0, 1.0], [100, 300, 350], 300, 0.01), [1.0, 1.0, 0.5])


def test_running_moments_merge_equals_the_moments_of_everything_seen():
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=n) for n in (3, 7, 1, 12)]
    m = S.RunningMoments()
    for x in xs:
        m = m.update(x)
    allx = np.concatenate(xs)
    assert m.n == len(allx) and m.mean == pytest.approx(allx.mean()) and m.std == pytest.approx(allx.std())
    assert (m.lo, m.hi) == (allx.min(), allx.max())


def _batch(refs, lengths):
    return ShapingBatch(["p"] * len(lengths), ["y"] * len(lengths), np.asarray(lengths, float), {"ref_rewards": refs})


def test_named_shaping_penalises_first_and_reads_the_first_n_references():
    b = _batch([[0.0, 10.0], [1.0, 10.0]], [5, 12])
    sh = S.Shaping("par", penalty=(10, 0.5), n_refs=1)
    # r̃ = [2, 2 − 0.5·2 = 1]; one reference each: σ(2 − 0), σ(1 − 1)
    np.testing.assert_allclose(sh(np.array([2.0, 2.0]), b), [sig(2.0), 0.5])
    ms = S.Shaping("meanstd")
    out1 = ms(np.array([1.0, 3.0]), b)
    np.testing.assert_allclose(out1, [-1.0, 1.0], atol=1e-7)  # moments of the first batch only: mean 2, std 1
    out2 = ms(np.array([2.0, 2.0]), b)  # now mean 2, std √½ over all four
    np.testing.assert_allclose(out2, [0.0, 0.0], atol=1e-7)
    assert ms.moments.n == 4
    with pytest.raises(ValueError, match="unknown shaping"):
        S.Shaping("nope")
