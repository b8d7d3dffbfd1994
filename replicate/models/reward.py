"""A scalar-head reward model on the policy's backbone, and batched scoring with it.

The network is ``AutoModelForSequenceClassification`` with one label, initialised from a causal LM's
weights (the usual RLHF recipe: the reward model starts from the SFT policy); the score is the head's
output at the last non-padding token. Training is ``training.reward.train_reward_model`` (TRL RewardTrainer).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..worlds.tokenizer import chat


def reward_model_from_policy(policy, tokenizer):
    """A one-output sequence classifier with the policy's backbone (the head starts at zero, so every
    response scores 0 before training)."""
    from transformers import AutoModelForSequenceClassification

    cfg = policy.config.__class__.from_dict(policy.config.to_dict())
    cfg.num_labels, cfg.pad_token_id = 1, tokenizer.pad_token_id
    cfg.problem_type = "regression"
    rm = AutoModelForSequenceClassification.from_config(cfg)
    missing = rm.load_state_dict(policy.state_dict(), strict=False).missing_keys
    if [k for k in missing if not k.startswith("score.")]:
        raise ValueError(f"backbone weights missing from the policy: {missing}")
    torch.nn.init.zeros_(rm.score.weight)
    return rm


@torch.no_grad()
def reward_scores(model, tokenizer, prompts: Sequence[str], responses: Sequence[str], batch_size: int = 512):
    """r(x, y) per (prompt, response), the chat template applied as in training."""
    model.eval()
    out = []
    for i in range(0, len(prompts), batch_size):
        texts = [
            tokenizer.apply_chat_template(chat(p, r), tokenize=False)
            for p, r in zip(prompts[i : i + batch_size], responses[i : i + batch_size])
        ]
        enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        out.append(model(**enc).logits[:, 0].float())
    return torch.cat(out).numpy() if out else torch.zeros(0).numpy()
