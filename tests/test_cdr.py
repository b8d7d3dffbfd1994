"""CDR density-ratio reward: definition, customisation routing, pair construction, and its link to DPO."""

import numpy as np
import pytest
import torch

from replicate.losses import dpo_loss
from replicate.metrics.density_ratio import build_pairs, customized_reward, density_ratio_reward, pairwise_accuracy
from replicate.worlds import tabular as T

S = torch.tensor([-10.0, -12.0, -9.0, -20.0], dtype=torch.float64)
W = torch.tensor([-11.0, -11.0, -11.0, -18.0], dtype=torch.float64)
N = torch.tensor([5.0, 6.0, 3.0, 10.0], dtype=torch.float64)


def test_density_ratio_and_length_variant():
    assert torch.equal(density_ratio_reward(S, W), torch.tensor([1.0, -1.0, 2.0, -2.0], dtype=torch.float64))
    assert torch.allclose(density_ratio_reward(S, W, N, length_normalize=True), (S - W) / N)
    with pytest.raises(ValueError):
        density_ratio_reward(S, W, length_normalize=True)


def test_customized_reward_routes_each_example():
    s_ctx = {"none": S, "SAFETY": S + 5, "REASONING": S - 1}
    w_ctx = {"none": W, "SAFETY": W, "REASONING": W}
    got = customized_reward(s_ctx, w_ctx, ["CHAT", "SAFETY", "REASONING", "CHAT"])
    assert torch.allclose(got, torch.stack([S[0] - W[0], S[1] + 5 - W[1], S[2] - 1 - W[2], S[3] - W[3]]))
    # customise CHAT too, given its context
    s_ctx["CHAT"], w_ctx["CHAT"] = S + 1, W
    assert torch.allclose(customized_reward(s_ctx, w_ctx, ["CHAT"] * 4, uncustomized=()), S + 1 - W)
    with pytest.raises(KeyError):
        customized_reward({"none": S}, {"none": W}, ["SAFETY"] * 4)


def test_pairwise_accuracy_counts_ties_half():
    assert pairwise_accuracy(torch.tensor([1.0, 0.0, 2.0]), torch.tensor([0.0, 0.0, 3.0])) == pytest.approx(0.5)


def test_build_pairs_best_vs_random_other_and_skips_ties():
    rng = np.random.default_rng(0)
    rewards = np.array([[0.1, 0.9, 0.3, 0.2], [1.0, 1.0, 1.0, 1.0], [5.0, 1.0, 2.0, 3.0]])
    pairs = build_pairs(rewards, rng)
    assert [p for p, _, _ in pairs] == [0, 2]
    assert all(best == int(np.argmax(rewards[p])) and rej != best for p, best, rej in pairs)
    assert build_pairs(rewards, np.random.default_rng(0)) == pairs  # seeded


def test_ratio_of_trained_dpo_model_over_its_reference_ranks_like_the_true_reward():
    """At DPO's optimum under Bradley–Terry, log π_θ − log π_ref = r/β − log Z: the density ratio of the
    aligned model over its reference orders responses exactly by r (accuracy 1)."""
    world, r = T.make_bt_world(2, 5, seed=7)
    Wt = T.pair_weights(world.ref, world.P)
    cr, rr = T.pairs(world.ref_logp)

    def loss(z):
        c, rj = T.pairs(torch.log_softmax(z, -1))
        return T.expected(dpo_loss(c, rj, cr, rr, beta=0.5), Wt)

    with T.single_thread():
        z, _ = T.fit(world.ref_logits, loss, steps=1200, lr=0.1)
    ratio = density_ratio_reward(torch.log_softmax(z, -1), world.ref_logp)
    assert torch.allclose(ratio - ratio.mean(-1, keepdim=True), (r - r.mean(-1, keepdim=True)) / 0.5, atol=1e-5)
    ii, jj = torch.triu_indices(5, 5, 1)
    ch = torch.where(r[:, ii] > r[:, jj], ii, jj)
    rj = torch.where(r[:, ii] > r[:, jj], jj, ii)
    m = torch.arange(2)[:, None].expand_as(ch)
    assert pairwise_accuracy(ratio[m, ch].flatten(), ratio[m, rj].flatten()) == 1.0
