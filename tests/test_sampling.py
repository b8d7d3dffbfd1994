"""Batched generation (``models.sampling.generate``) on a tiny random Llama: a response holds only new tokens (never
the prompt or the chat template), at most ``max_new_tokens`` of them, the same whether a prompt is generated alone or
left-padded in a batch, and seeded sampling repeats itself."""

import pytest
import torch

from replicate.models.lm import build_tiny_llama
from replicate.models.sampling import generate
from replicate.worlds.tokenizer import build_tokenizer

PROMPTS = ["rev:abc", "sort:dcbaxy", "max:3,9,4,1"]  # different lengths, so the batch is left-padded


@pytest.fixture(scope="module")
def lm():
    tok = build_tokenizer()
    model = build_tiny_llama(tok, hidden_size=64, num_layers=2, num_heads=2, intermediate_size=128, seed=3)
    # a fresh, untied output layer with special tokens (EOS, the chat template's) at logit 0: greedy decoding then
    # writes characters that depend on the prompt (tied to the embeddings, a random model repeats one character or
    # stops at once, and an empty or constant response tests nothing)
    head = torch.randn(len(tok), 64, generator=torch.Generator().manual_seed(3))
    head[tok.all_special_ids] = 0.0
    model.lm_head.weight = torch.nn.Parameter(head)
    return model, tok


def test_a_response_is_new_tokens_only_and_at_most_max_new_tokens(lm):
    model, tok = lm
    for (resp,), p in zip(generate(model, tok, PROMPTS, max_new_tokens=5), PROMPTS):
        ids = tok(resp, add_special_tokens=False)["input_ids"]
        assert 0 < len(ids) <= 5, (p, resp)  # a response that kept the prompt's tokens would be longer
        assert p not in resp


def test_batched_equals_one_prompt_at_a_time(lm):
    model, tok = lm
    batched = generate(model, tok, PROMPTS, max_new_tokens=6)
    alone = [generate(model, tok, [p], max_new_tokens=6)[0] for p in PROMPTS]
    assert batched == alone
    assert len({r for (r,) in batched}) > 1  # the responses depend on the prompt, so the comparison says something


def test_seeded_sampling_repeats_and_the_seed_matters(lm):
    model, tok = lm
    a = generate(model, tok, PROMPTS, n=4, temperature=1.0, max_new_tokens=8, seed=7)
    assert a == generate(model, tok, PROMPTS, n=4, temperature=1.0, max_new_tokens=8, seed=7)
    assert a != generate(model, tok, PROMPTS, n=4, temperature=1.0, max_new_tokens=8, seed=8)
    assert [len(r) for r in a] == [4, 4, 4]
