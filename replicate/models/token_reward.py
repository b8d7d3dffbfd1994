"""The toy world's reward network: a per-token reward head summed over the response, on the SFT policy's weights.

A separate module from ``models.reward`` (the usual last-token head, which Adaptive Compute's cached stages are
keyed on); scoring goes through ``models.reward.reward_scores`` for both kinds, and ``load_reward_model`` reloads
either from disk.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import LlamaForCausalLM
from transformers.modeling_outputs import SequenceClassifierOutputWithPast

from ..worlds.tokenizer import ASSISTANT


class TokenSumRewardModel(LlamaForCausalLM):
    """r(x, y) = Σ_{t ∈ y} [ w·h_t + α · log p_θ(y_t | x, y_<t) ]: a scalar head on every response position plus a
    learned weight α on the backbone's own log-likelihood of the response token, summed over the response
    (the tokens after the last assistant tag, end-of-turn included).

    Why not the usual last-token head: on the 0.34M-parameter toy backbone (2 layers) the last position cannot
    compare an answer with the skill's result, and a last-token RM trained on judge-labelled pairs learned length
    only (held-out agreement with the oracle 0.47, pay for a correct answer over a one-edit wrong one 0.00 on
    seed 42). Starting α at 1 (the SFT policy's likelihood, which prefers its better answers) gives the Bradley–Terry
    training a correctness feature to keep, and the per-token head a length feature to learn: a proxy that tracks
    quality *and* over-rewards filler, as a real RM does. ``num_labels = 1`` and ``.logits`` of shape (B, 1) make it
    a drop-in model for TRL's ``RewardTrainer`` and ``reward_scores``.
    """

    def __init__(self, config):
        super().__init__(config)
        self.score = nn.Linear(config.hidden_size, 1, bias=False)
        self.alpha = nn.Parameter(torch.tensor(float(getattr(config, "reward_alpha_init", 1.0))))
        nn.init.zeros_(self.score.weight)

    def forward(self, input_ids=None, attention_mask=None, **kwargs):
        h = self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state[:, :-1]
        lp = torch.log_softmax(self.lm_head(h).float(), -1).gather(-1, input_ids[:, 1:, None])[..., 0]
        per_token = self.score(h)[..., 0].float() + self.alpha * lp
        is_a = input_ids == int(self.config.assistant_token_id)
        resp = (is_a.cumsum(1) == is_a.sum(1, keepdim=True)) & ~is_a  # after the last assistant tag
        if attention_mask is not None:
            resp = resp & attention_mask.bool()
        return SequenceClassifierOutputWithPast(logits=(per_token * resp[:, 1:]).sum(1, keepdim=True))


def token_reward_model_from_policy(policy, tokenizer, alpha_init: float = 1.0) -> TokenSumRewardModel:
    """``TokenSumRewardModel`` with the policy's weights (backbone and LM head), w = 0 and α = ``alpha_init``."""
    cfg = policy.config.__class__.from_dict(policy.config.to_dict())
    cfg.num_labels, cfg.pad_token_id = 1, tokenizer.pad_token_id
    cfg.assistant_token_id = tokenizer.convert_tokens_to_ids(ASSISTANT)
    cfg.reward_alpha_init, cfg.reward_head = float(alpha_init), "token_sum"
    rm = TokenSumRewardModel(cfg)
    missing = rm.load_state_dict(policy.state_dict(), strict=False).missing_keys
    if sorted(missing) != ["alpha", "score.weight"]:
        raise ValueError(f"policy weights missing from the reward model: {missing}")
    return rm


def load_reward_model(path):
    """A saved reward model of either kind (``reward_head`` in its config), in float32, in eval mode."""
    from transformers import AutoConfig, AutoModelForSequenceClassification

    if getattr(AutoConfig.from_pretrained(path), "reward_head", None) == "token_sum":
        m = TokenSumRewardModel.from_pretrained(path, dtype=torch.float32)
    else:
        m = AutoModelForSequenceClassification.from_pretrained(path, dtype=torch.float32)
    return m.eval()
