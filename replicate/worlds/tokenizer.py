"""A character tokenizer with a chat template, as a real ``transformers`` fast tokenizer.

Being a ``PreTrainedTokenizerFast`` means TRL, ``apply_chat_template``, ``save_pretrained`` and
``AutoTokenizer.from_pretrained`` all work unchanged — the same code path real models take.
The template adds exactly one BOS (SimPO's README warns about double BOS with Llama-3 + vLLM).
"""

from __future__ import annotations

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from .toy_lm import DIGITS, LETTERS

PAD, BOS, EOS, USER, ASSISTANT, UNK = "<pad>", "<s>", "<e>", "<u>", "<a>", "<unk>"
SPECIALS = (PAD, BOS, EOS, USER, ASSISTANT, UNK)
CHARS = LETTERS + "ijklmnopqrstuvwxyz" + DIGITS + " :+!?.,-=#"
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for m in messages %}"
    "{% if m['role'] == 'user' %}<u>{{ m['content'] }}"
    "{% else %}<a>{{ m['content'] }}<e>{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<a>{% endif %}"
)


def build_tokenizer() -> PreTrainedTokenizerFast:
    vocab = {tok: i for i, tok in enumerate(SPECIALS + tuple(CHARS))}
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    tk.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")  # one token per character
    tk.decoder = decoders.Fuse()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        additional_special_tokens=[USER, ASSISTANT],
        padding_side="left",
    )
    tok.chat_template = CHAT_TEMPLATE
    tok.model_max_length = 128
    return tok


def chat(prompt: str, response: str | None = None) -> list[dict]:
    msgs = [{"role": "user", "content": prompt}]
    if response is not None:
        msgs.append({"role": "assistant", "content": response})
    return msgs
