"""The streaming commit policy (LocalAgreement-2): pure, synchronous, no I/O.

Each update brings a hypothesis (timed words) for the whole uncommitted audio buffer.
A word is committed once two consecutive hypotheses agree on it (longest common
prefix); what follows stays tentative. Committed text becomes the decoding prompt and
the audio before the last committed word can be dropped, so one update never looks at
more than a bounded stretch of audio however long the answer is.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Word:
    """A recognised word; times are seconds on the interview clock."""

    text: str
    start: float
    end: float
    probability: float = 1.0


@dataclass(frozen=True)
class PolicyUpdate:
    """What one hypothesis changed: words newly committed and the tentative tail."""

    committed: list[Word]
    tentative: list[Word]


def _key(text: str) -> str:
    """Compare words without case, spacing or punctuation."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold() if ch.isalnum())


def join_words(words: Sequence[Word]) -> str:
    """Words as text: whisper keeps leading spaces where the language uses them."""
    return "".join(w.text for w in words).strip()


@dataclass
class CommitPolicy:
    """LocalAgreement-2 over timed words of one utterance.

    ``trim_after_s``: once the uncommitted buffer is longer than this, the buffer may be
    cut after the last committed word. ``max_buffer_s``: past this (no agreement for a
    long time) the tentative words except the last ``keep_tail_s`` are force-committed,
    keeping the buffer inside Whisper's 30 s window.
    """

    trim_after_s: float = 8.0
    max_buffer_s: float = 20.0
    keep_tail_s: float = 2.0
    prompt_chars: int = 200
    committed: list[Word] = field(default_factory=list)
    tentative: list[Word] = field(default_factory=list)
    _last_committed_end: float = 0.0
    _anchor: list[Word] = field(default_factory=list)  # last hypothesis allowed to commit

    @property
    def last_committed_end(self) -> float:
        """End time of the last committed word (0 before any)."""
        return self._last_committed_end

    def _fresh(self, words: Sequence[Word]) -> list[Word]:
        """Drop words the buffer already committed (by time, then by n-gram overlap)."""
        new = [w for w in words if w.start > self._last_committed_end - 0.1]
        if not new or not self.committed:
            return new
        if abs(new[0].start - self._last_committed_end) < 1.0:
            tail = [_key(w.text) for w in self.committed[-5:]]
            for n in range(min(len(tail), len(new), 5), 0, -1):
                if tail[-n:] == [_key(w.text) for w in new[:n]]:
                    return new[n:]
        return new

    def _commit(self, words: Sequence[Word]) -> list[Word]:
        words = [w for w in words if _key(w.text) or w.text.strip()]
        if words:
            self.committed.extend(words)
            self._last_committed_end = max(self._last_committed_end, words[-1].end)
        return list(words)

    def insert(
        self,
        hypothesis: Sequence[Word],
        buffer_start: float = 0.0,
        buffer_end: float | None = None,
        commit: bool = True,
    ) -> PolicyUpdate:
        """Feed the hypothesis for the current buffer; commit what two hypotheses agree on.

        ``commit=False``: a cheaper, less reliable pass (a shortened encoder window). It
        replaces the tentative tail but takes no part in agreement: two such passes tend
        to make the same mistake at the buffer's edges (a first word dropped), so only
        hypotheses inserted with ``commit=True`` are compared with each other.
        """
        new = self._fresh(hypothesis)
        if not commit:
            self.tentative = new
            return PolicyUpdate(committed=[], tentative=list(new))
        agreed = 0
        for old, cur in zip(self._fresh(self._anchor), new, strict=False):
            if _key(old.text) != _key(cur.text):
                break
            agreed += 1
        committed = self._commit(new[:agreed])
        rest = new[agreed:]
        if buffer_end is not None and buffer_end - buffer_start > self.max_buffer_s:
            cut = buffer_end - self.keep_tail_s
            forced = [w for w in rest if w.end <= cut]
            committed += self._commit(forced)
            rest = rest[len(forced) :]
        self.tentative = rest
        self._anchor = list(rest)
        return PolicyUpdate(committed=committed, tentative=list(rest))

    def finish(self, hypothesis: Sequence[Word] | None = None) -> list[Word]:
        """End of utterance: commit the last pass (or the tentative tail); return new words."""
        words = self._fresh(hypothesis) if hypothesis is not None else self.tentative
        self.tentative = []
        self._anchor = []
        return self._commit(words)

    def finish_from(self, buffer_start: float, hypothesis: Sequence[Word]) -> list[Word]:
        """End of utterance with a final pass over the buffer that began at ``buffer_start``.

        Words committed before the buffer stay (their audio is gone); the pass replaces
        everything after, so the final is as good as one pass over the kept audio even
        where tentative passes (shorter windows) heard it differently. Returns the words
        committed from the pass.
        """
        kept = [w for w in self.committed if w.end <= buffer_start + 0.05]
        self.committed = kept
        self._last_committed_end = kept[-1].end if kept else 0.0
        self.tentative = []
        self._anchor = []
        return self._commit(self._fresh(hypothesis))

    def trim_point(
        self, buffer_start: float, buffer_end: float, trim_after_s: float | None = None
    ) -> float | None:
        """Where the audio buffer may be cut now, or None to keep it whole."""
        after = self.trim_after_s if trim_after_s is None else trim_after_s
        if buffer_end - buffer_start <= after or not self.committed:
            return None
        if self._last_committed_end <= buffer_start:
            return None
        return self._last_committed_end

    def prompt(self, buffer_start: float | None = None) -> str:
        """Committed text before ``buffer_start`` (its tail) to condition the next pass on.

        Words still inside the buffer are left out: prompted with text it is about to
        hear, Whisper tends to skip that speech.
        """
        words = self.committed
        if buffer_start is not None:
            words = [w for w in words if w.end <= buffer_start + 0.05]
        return join_words(words)[-self.prompt_chars :]

    def text(self) -> str:
        """Committed then tentative text."""
        return join_words([*self.committed, *self.tentative])
