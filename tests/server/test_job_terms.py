"""The transcriber's context: the job's own terms, its competency names, and the question."""

from __future__ import annotations

from analysis.asr.record import PROMPT_CHARS, hotwords, record_prompt
from analysis.competency import load_template
from server.session_setup import job_terms
from server.storage.models import Job


def test_the_job_terms_are_its_list_then_its_competency_names_once_each() -> None:
    model = load_template("software_engineer", "zh")
    job = Job(
        title="后端工程师",
        language="zh",
        vocabulary=[" Kubernetes ", "支付宝", "kubernetes", ""],
        competency_model=model.model_dump(mode="json"),
    )
    names = [c.name for c in model.competencies]
    assert job_terms(job) == ["Kubernetes", "支付宝", *names]
    assert job_terms(Job(title="t", language="en", vocabulary=None)) == []


def test_the_record_prompt_keeps_every_term_and_the_end_of_the_question() -> None:
    question = "Tell me about a time you debugged a production outage. " * 6
    terms = ["Kubernetes", "PostgreSQL", "Grafana"]
    prompt = record_prompt(question, terms)
    assert len(prompt) <= PROMPT_CHARS
    assert prompt.endswith(hotwords(terms))
    assert prompt.startswith(question.strip()[-(PROMPT_CHARS - len(hotwords(terms)) - 1) :])
    assert record_prompt("Why?", []) == "Why?"
    long_terms = [f"term{i:03d}" for i in range(60)]
    assert record_prompt("Why?", long_terms) == hotwords(long_terms)  # no room for the question


def test_the_term_list_ends_as_a_sentence_so_the_answer_starts_a_new_one() -> None:
    assert hotwords([" Kubernetes ", "", "支付宝"]) == "Kubernetes, 支付宝."
    assert hotwords(["Acme Inc."]) == "Acme Inc."
    assert hotwords([]) == ""
    assert len(hotwords([f"term{i:03d}" for i in range(60)])) <= PROMPT_CHARS
    assert record_prompt("Why?", ["Sunday"]) == "Why? Sunday."
