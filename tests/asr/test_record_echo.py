"""The record pass drops a window whose text only echoes its prompt (question, job terms)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.asr.engine import Hypothesis, LongPass, WhisperEngine, echoes_prompt
from analysis.asr.policy import Word

QUESTION = "Tell me about a project where you used Kubernetes and Grafana."


def test_text_made_only_of_the_prompts_words_is_suspected() -> None:
    assert echoes_prompt("Tell me about a project. Tell me about a project.", QUESTION)
    assert echoes_prompt("Kubernetes, Grafana, Kubernetes", QUESTION)
    assert echoes_prompt("宝，微信支付，微信支付，消息队列", "飞书, 支付宝, 微信支付, 消息队列")
    assert not echoes_prompt("I migrated our services to Kubernetes last year.", QUESTION)
    assert not echoes_prompt("Kubernetes.", QUESTION)  # one word says too little
    assert not echoes_prompt("Tell me about it", "")


class PromptedFake:
    """A fake engine: with a prompt it says ``prompted``, without one ``bare``."""

    def __init__(self, prompted: str, bare: str) -> None:
        self.prompted, self.bare = prompted, bare
        self.prompts: list[str] = []

    def transcribe(
        self, audio: np.ndarray, prompt: str = "", language: str | None = None,
        beam_size: int = 5, window_s: float | None = None, hotwords: str = "",
    ) -> Hypothesis:
        self.prompts.append(prompt)
        text = self.prompted if prompt else self.bare
        words = [Word(f" {w}", i * 0.4, i * 0.4 + 0.3, 0.9) for i, w in enumerate(text.split())]
        return Hypothesis(words, language="en", duration=len(audio) / 16_000)


def _run(engine: PromptedFake) -> tuple[Hypothesis, LongPass]:
    audio = np.zeros(5 * 16_000, np.float32)
    long = LongPass(engine, audio, [(0, len(audio))], QUESTION, "en", 5, "")  # type: ignore[arg-type]
    while long.step():
        pass
    return long.result(), long


def test_an_echo_the_audio_does_not_confirm_is_dropped() -> None:
    engine = PromptedFake("Tell me about a project where you used Kubernetes", "Jupper form A2")
    hyp, long = _run(engine)
    assert hyp.words == [] and long.echoes_dropped == 1
    assert hyp.extra["echoes_dropped"] == 1.0
    assert engine.prompts == [QUESTION, ""]  # checked once without the prompt


def test_terms_the_candidate_really_says_are_kept() -> None:
    engine = PromptedFake("Kubernetes and Grafana", "Kubernetes and Grafana")
    hyp, long = _run(engine)
    assert hyp.text == "Kubernetes and Grafana" and long.echoes_dropped == 0


def test_an_ordinary_answer_costs_no_second_decode() -> None:
    engine = PromptedFake("We moved the billing service to Kubernetes", "unused")
    hyp, _ = _run(engine)
    assert hyp.text.startswith("We moved") and engine.prompts == [QUESTION]


ZH_PROMPT_TERMS = (
    "请介绍一个你使用飞书、钉钉和支付宝的项目。 飞书, 钉钉, 支付宝, 微信支付, 消息队列, 阿里云"
)


@pytest.mark.model
@pytest.mark.parametrize("kind", ["silence", "noise"])
def test_the_record_pass_does_not_read_its_prompt_into_unintelligible_audio(
    whisper_engine: WhisperEngine, kind: str
) -> None:
    rng = np.random.default_rng(3)
    if kind == "silence":
        audio = rng.normal(0, 1e-4, 8 * 16_000).astype(np.float32)
    else:  # noise bursts with a syllable rhythm
        env = (np.sin(np.arange(8 * 16_000) / 16_000 * 2 * np.pi * 4) > 0).astype(np.float32)
        audio = (rng.normal(0, 0.1, 8 * 16_000) * env).astype(np.float32)
    plain = whisper_engine.transcribe(audio, ZH_PROMPT_TERMS, "zh", 5)
    # one window over all of it, even where the VAD would find no speech
    long = LongPass(whisper_engine, audio, [(0, len(audio))], ZH_PROMPT_TERMS, "zh", 5, "")
    while long.step():
        pass
    text = long.result().text
    assert not echoes_prompt(text, ZH_PROMPT_TERMS), text
    # (measured: whisper-base says "负载均衡" to the silence, "钉钉和支付宝" to the noise)
    assert long.echoes_dropped == int(echoes_prompt(plain.text, ZH_PROMPT_TERMS))
