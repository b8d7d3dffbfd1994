"""The reward-model variants of docs/power.md §14 (training/rm_variants.py): binarized pairs take the judge's top
sample; the group-std rescaling divides the reward by a global constant; the pooled heads are the summed head's
terms averaged; a bad option is refused before any compute; the default corner is toy_reward's RM itself."""

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from replicate.models.lm import build_tiny_llama
from replicate.models.reward import reward_model_from_policy, reward_scores
from replicate.models.token_reward import token_reward_model_from_policy
from replicate.training import rm_variants as V
from replicate.worlds.tokenizer import build_tokenizer
from replicate.worlds.toy_lm import Judge

PS, YS = ["rev:abc", "add:12+30", "sort:cab"], ["cba", "42 sure done", ""]


def tiny_policy(tok, seed=0):
    return build_tiny_llama(tok, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, seed=seed)


def test_binarized_pairs_take_the_judges_top_sample_against_the_others():
    j = Judge(sharpness=50.0, length_bias=0.0, position_bias=0.0, noise=0.0)
    out = V.binarized_pairs(j, ["rev:abc", "rev:xyz"], [["zzz", "cba", "cba", "cbz"], ["a", "a"]], 0, per_prompt=10)
    assert out["prompt"] == ["rev:abc", "rev:abc"] and out["chosen"] == ["cba", "cba"]  # one distinct sample: no pair
    assert sorted(out["rejected"]) == ["cbz", "zzz"] and all(p > 0.5 for p in out["p_judge"])
    assert len(V.binarized_pairs(j, ["rev:abc"], [["zzz", "cba", "cbz"]], 0, per_prompt=1)["prompt"]) == 1


def test_group_std_closed_form():
    pairs = {"prompt": ["a", "a", "b"], "chosen": ["x", "x", "u"], "rejected": ["y", "z", "v"]}
    val = {"x": 0.0, "y": 1.0, "z": 2.0, "u": 0.0, "v": 4.0}
    s = V.group_std(lambda ps, ys: np.array([val[y] for y in ys]), pairs)
    assert s == pytest.approx(np.sqrt((1.0 + 8.0) / 2))  # variances (ddof 1) of {0, 1, 2} and {0, 4}


@pytest.mark.parametrize("kind", ["token_sum", "token_head_mean", "last"])
def test_rescale_head_divides_the_reward_by_the_constant(kind):
    tok = build_tokenizer()
    pol = tiny_policy(tok, 2)
    rm = {
        "token_sum": lambda: token_reward_model_from_policy(pol, tok, 1.0),
        "token_head_mean": lambda: V.pooled_reward_model_from_policy(pol, tok, 1.0, "head_mean"),
        "last": lambda: reward_model_from_policy(pol, tok),
    }[kind]().eval()
    with torch.no_grad():
        rm.score.weight.normal_()
    before = reward_scores(rm, tok, PS, YS)
    V.rescale_head(rm, 2.5)
    np.testing.assert_allclose(reward_scores(rm, tok, PS, YS), before / 2.5, rtol=1e-5, atol=1e-6)
    assert rm.config.reward_scale == 2.5
    with pytest.raises(ValueError, match="> 0"):
        V.rescale_head(rm, 0.0)


def test_pooled_heads_average_the_summed_heads_terms_and_reload(tmp_path):
    tok = build_tokenizer()
    n = np.array([len(tok(y, add_special_tokens=False)["input_ids"]) + 1 for y in YS])  # + end-of-turn
    total = token_reward_model_from_policy(tiny_policy(tok, 3), tok, 1.0).eval()
    mean = V.pooled_reward_model_from_policy(tiny_policy(tok, 3), tok, 1.0, "mean").eval()
    hm = V.pooled_reward_model_from_policy(tiny_policy(tok, 3), tok, 1.0, "head_mean").eval()
    np.testing.assert_allclose(reward_scores(mean, tok, PS, YS), reward_scores(total, tok, PS, YS) / n, rtol=1e-5)
    # w = 0: head_mean is the summed likelihood (= token_sum); with α = 0 and w ≠ 0, the summed head over n
    np.testing.assert_allclose(reward_scores(hm, tok, PS, YS), reward_scores(total, tok, PS, YS), rtol=1e-5)
    for m in (hm, total):
        with torch.no_grad():
            (
                m.alpha.zero_(),
                m.score.weight.copy_(torch.linspace(-1, 1, m.score.weight.numel()).view_as(m.score.weight)),
            )
    np.testing.assert_allclose(reward_scores(hm, tok, PS, YS), reward_scores(total, tok, PS, YS) / n, rtol=1e-5)
    hm.save_pretrained(tmp_path / "rm")
    back = V.load_variant_rm(tmp_path / "rm")
    assert isinstance(back, V.PooledTokenRewardModel)
    np.testing.assert_allclose(reward_scores(back, tok, PS, YS), reward_scores(hm, tok, PS, YS), rtol=1e-6)
    with pytest.raises(ValueError, match="pool"):
        V.pooled_reward_model_from_policy(tiny_policy(tok, 3), tok, 1.0, "max")


@pytest.mark.parametrize(
    "opt, msg", [({"pairing": "best"}, "pairing"), ({"normalise": "z"}, "normalise"), ({"head": "max"}, "head")]
)
def test_bad_options_raise_before_compute(opt, msg):
    rm_cfg = OmegaConf.create({"n_prompts": 4, **opt})
    with pytest.raises(ValueError, match=msg):
        V.variant_reward_model(None, None, rm_cfg)  # no cfg, no world: raising here means nothing ran
