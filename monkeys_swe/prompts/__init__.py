"""Prompt material shipped with the package (few-shot exemplars)."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

import yaml

from monkeys_swe.types import Messages


@lru_cache
def exemplars(name: str) -> list[dict[str, str]]:
    return yaml.safe_load(resources.files(__package__).joinpath(f"{name}.yaml").read_text())


def few_shot_messages(name: str, question: str, *, q_prefix: str, a_prefix: str = "") -> Messages:
    """Exemplars as alternating user/assistant turns, then the question: the few-shot prompt for chat models."""
    messages: Messages = []
    for ex in exemplars(name):
        messages.append({"role": "user", "content": f"{q_prefix}{ex['question']}"})
        messages.append({"role": "assistant", "content": f"{a_prefix}{ex['answer']}"})
    messages.append({"role": "user", "content": f"{q_prefix}{question}"})
    return messages
