"""The LocalAgreement-2 commit policy, driven by scripted hypotheses (no model)."""

from __future__ import annotations

from analysis.asr.policy import CommitPolicy, Word, join_words


def words(text: str, start: float = 0.0, step: float = 0.5) -> list[Word]:
    """Timed words, one every ``step`` seconds from ``start``."""
    return [
        Word(f" {w}", start + i * step, start + i * step + step * 0.8)
        for i, w in enumerate(text.split())
    ]


def test_nothing_is_committed_until_two_hypotheses_agree() -> None:
    policy = CommitPolicy()
    first = policy.insert(words("ask not what"))
    assert first.committed == []
    assert join_words(first.tentative) == "ask not what"


def test_the_agreed_prefix_is_committed_and_the_rest_stays_tentative() -> None:
    policy = CommitPolicy()
    policy.insert(words("ask not what"))
    update = policy.insert(words("ask not what your country"))
    assert join_words(update.committed) == "ask not what"
    assert join_words(update.tentative) == "your country"
    assert policy.text() == "ask not what your country"


def test_agreement_ignores_case_and_punctuation() -> None:
    policy = CommitPolicy()
    policy.insert(words("Ask not, what"))
    update = policy.insert(words("ask NOT what! your"))
    assert [w.text.strip() for w in update.committed] == ["ask", "NOT", "what!"]


def test_a_changed_word_stops_the_commit() -> None:
    policy = CommitPolicy()
    policy.insert(words("and so my fellow america"))
    update = policy.insert(words("and so my fellow americans ask"))
    assert join_words(update.committed) == "and so my fellow"
    assert join_words(update.tentative) == "americans ask"


def test_committed_words_are_never_committed_twice() -> None:
    policy = CommitPolicy()
    policy.insert(words("one two three"))
    policy.insert(words("one two three four"))
    update = policy.insert(words("one two three four five"))
    assert join_words(update.committed) == "four"
    assert join_words(policy.committed) == "one two three four"


def test_a_hypothesis_on_a_trimmed_buffer_repeating_the_last_words_is_deduplicated() -> None:
    policy = CommitPolicy()
    policy.insert(words("one two three"))
    policy.insert(words("one two three four"))  # commits one two three (ends at 1.4)
    # after trimming, Whisper repeats "three" with a slightly earlier start time
    repeated = [Word(" three", 1.35, 1.45), *words("four five", start=1.5)]
    policy.insert(repeated)
    assert join_words(policy.committed) == "one two three four"


def test_finish_commits_the_tentative_tail() -> None:
    policy = CommitPolicy()
    policy.insert(words("what your"))
    policy.insert(words("what your country can"))
    assert join_words(policy.finish()) == "country can"
    assert policy.tentative == []
    assert policy.text() == "what your country can"


def test_finish_with_a_last_pass_commits_its_new_words() -> None:
    policy = CommitPolicy()
    policy.insert(words("what your"))
    policy.insert(words("what your country"))
    final = policy.finish(words("what your country can do for you"))
    assert join_words(final) == "country can do for you"


def test_the_prompt_holds_only_committed_words_before_the_buffer() -> None:
    policy = CommitPolicy()
    policy.insert(words("one two three four"))
    policy.insert(words("one two three four five"))
    assert policy.prompt() == "one two three four"
    assert policy.prompt(buffer_start=1.0) == "one two"
    assert policy.prompt(buffer_start=0.0) == ""


def test_the_buffer_is_trimmed_after_committed_words_once_long() -> None:
    policy = CommitPolicy(trim_after_s=3.0)
    policy.insert(words("a b c d e f g h", step=0.5))
    policy.insert(words("a b c d e f g h i", step=0.5))
    assert policy.trim_point(0.0, 2.5) is None  # still short: keep context
    cut = policy.trim_point(0.0, 4.5)
    assert cut is not None and abs(cut - policy.committed[-1].end) < 1e-9


def test_work_per_update_stays_bounded_in_a_long_answer() -> None:
    """Simulate 60 s of speech: the buffer handed to the model never exceeds the limit."""
    policy = CommitPolicy(trim_after_s=5.0, max_buffer_s=20.0)
    script = [f"w{i}" for i in range(120)]  # one word every 0.5 s
    buffer_start, longest = 0.0, 0.0
    for now in [1.0 * k for k in range(1, 61)]:
        spoken = [w for w in words(" ".join(script)) if w.end <= now and w.start >= buffer_start]
        policy.insert(spoken, buffer_start, now)
        longest = max(longest, now - buffer_start)
        cut = policy.trim_point(buffer_start, now)
        if cut is not None:
            buffer_start = cut
    policy.finish()
    assert longest <= 7.0
    assert [w.text.strip() for w in policy.committed] == script[: len(policy.committed)]
    assert len(policy.committed) >= 115


def test_without_agreement_the_buffer_is_force_committed_before_whisper_window() -> None:
    policy = CommitPolicy(max_buffer_s=20.0, keep_tail_s=2.0)
    policy.insert(words("x " * 20, step=0.5), 0.0, 10.0)
    # every hypothesis differs from the previous one: nothing agrees
    update = policy.insert(words("y " * 44, step=0.5), 0.0, 22.0)
    assert update.committed and all(w.end <= 20.0 for w in update.committed)
    assert all(w.end > 20.0 for w in update.tentative)


def test_passes_that_may_not_commit_only_replace_the_tentative_tail() -> None:
    policy = CommitPolicy()
    policy.insert(words("printing in the only sense"))  # a full-window pass
    # two cheap passes agree with each other, both missing the first word
    cheap = policy.insert(words("in the only sense with", start=0.5), commit=False)
    assert cheap.committed == [] and join_words(cheap.tentative) == "in the only sense with"
    cheap = policy.insert(words("in the only sense with which", start=0.5), commit=False)
    assert cheap.committed == [] and policy.committed == []
    # agreement is only sought between passes that may commit
    update = policy.insert(words("printing in the only sense with which we"))
    assert join_words(update.committed) == "printing in the only sense"
    assert join_words(update.tentative) == "with which we"


def test_finish_from_replaces_what_was_committed_inside_the_final_buffer() -> None:
    policy = CommitPolicy()
    policy.insert(words("is not what your"))
    policy.insert(words("is not what your country"))  # commits "is not what your" (0-1.9 s)
    # a final pass over the buffer from 0.0 hears it better: it replaces those words
    final = policy.finish_from(0.0, words("ask not what your country can"))
    assert join_words(final) == "ask not what your country can"
    assert policy.text() == "ask not what your country can"


def test_finish_from_keeps_words_committed_before_the_buffer() -> None:
    policy = CommitPolicy()
    policy.insert(words("one two three"))
    policy.insert(words("one two three four"))  # "one two three" committed, ends at 1.4
    final = policy.finish_from(1.45, words("four five", start=1.5))
    assert join_words(final) == "four five"
    assert policy.text() == "one two three four five"
