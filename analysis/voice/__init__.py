"""Voice delivery signals: speaking rate, pauses, fillers, loudness (pure numpy).

Public API: ``VoiceAnalyzer(interview_id)`` with ``push_audio(samples, t)``,
``push_words(words)``, ``end_answer(question_id, language) -> VoiceDeliverySummarized``;
``summarize_voice(...)`` for a whole answer at once; ``count_fillers(text, language)``.
"""

from analysis.voice.analyzer import VoiceAnalyzer, VoiceConfig, summarize_voice
from analysis.voice.fillers import count_fillers

__all__ = ["VoiceAnalyzer", "VoiceConfig", "count_fillers", "summarize_voice"]
