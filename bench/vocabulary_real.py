"""Job vocabulary on real human speech (../shared/data): Mandarin, and English as a second row.

Usage: nice .venv/bin/python bench/vocabulary_real.py [--lang zh,en] [--set tuned|held|all]
       [--out PATH]

Skips cleanly (exit 0, message) when ../shared/data is absent. Takes the clips with a
reference from ../shared/data/transcripts.tsv as bench/transcription.py loads them (the same
``SKIP`` and ``HELD_APART`` split: tuned and held-apart clips are reported apart), and
transcribes each one with the project's own paths, reused from bench/vocabulary.py:

* record: ``RecordTranscriber`` on an ``AsrScheduler`` (question, then the job's terms as
  ``initial_prompt``, the terms as ``hotwords``, beam 5);
* streaming: ``StreamingTranscriber`` at real-time pace with ``StreamSettings.hotwords``;

three times each: no vocabulary, the clip's job vocabulary (``VOCABULARY`` below), and an
UNRELATED job's vocabulary (bench/vocabulary.py's software-engineering list, 22 terms in
Mandarin, 19 in English: the cost of a list that does not match the speech).

How the job vocabularies were chosen (written here before any decoding with a vocabulary,
never changed after; model output was not looked at to choose them):

* ``SPOKEN``: from the human reference only, the named entities (people, places,
  organisations, nationalities, days) and the domain / technical terms and rare words of
  the reference (Mandarin: multi-character words of the topic's trade; English: words a
  recruiter for that topic would list, not everyday words). Clips whose reference has none
  (the Harvard sentences, a WenetSpeech chat line) get no term: for them only the
  unrelated list is measured (its cost).
* ``TOPIC``: for clips with a recognisable topic, up to five further terms a job
  description for that topic would hold and that are NOT said in the clip (a real list is
  about the job, not about one answer); they count as intrusions if they appear.
* The clip's vocabulary is ``SPOKEN`` + ``TOPIC``, sorted (a neutral order).

Measures per clip and condition: error rate (CER zh / WER en, bench/transcription.py's
normalisation), term recall (share of the clip's SPOKEN terms found in the output: case-,
space-, punctuation-insensitive, Simplified; bench/vocabulary.py's matcher) and intrusions
(terms of the list given that appear in the output but not in the reference: prompt echo
or hallucinated terms). Writes bench/results/vocabulary_real.json and prints a table.

Caveat on references: zh/funasr_example_0..2 have Paraformer output as reference (the only
text available; graded "MODEL OUTPUT" in transcripts.tsv); they are reported as their own
rows, not mixed with the human references.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analysis.asr.engine import WhisperEngine  # noqa: E402
from analysis.asr.model_files import prepare_whisper_base  # noqa: E402
from analysis.asr.record import hotwords  # noqa: E402
from analysis.asr.scheduler import AsrScheduler  # noqa: E402
from bench import vocabulary as synth  # noqa: E402
from bench.transcription import (  # noqa: E402
    ASR,
    SHARED,
    clip_set,
    error_rate,
    load_clips,
    machine,
    progress,
)

OUT = ROOT / "bench" / "results" / "vocabulary_real.json"

# Topic job lists (terms NOT said in the clips they serve), written before any decoding.
_REAL_ESTATE = ["二手房", "成交量", "限购政策", "楼市调控"]
_SPEECH_AI = ["阿里巴巴", "声学模型", "端到端", "ModelScope"]
_DEBATE = ["辩论赛", "程序正义", "法治", "公平"]
_TRADE = ["关税", "供应链", "自由贸易", "英镑"]
_PRINTING = ["typography", "letterpress", "incunabula", "movable type"]
_COTTON = ["plantation", "harvest", "bale", "commodity"]
_MEMOIR = ["memoir", "manuscript", "autobiography"]
_SPEECH = ["inaugural address", "Congress", "citizenship"]

# clip -> (SPOKEN terms from the reference by the rule above, TOPIC terms not said)
VOCABULARY: dict[str, tuple[list[str], list[str]]] = {
    "zh/aishell-BAC009S0724W0121.wav": (["广州市", "房地产", "中介协会"], _REAL_ESTATE),
    "zh/BAC009S0764W0121.wav": (["交易", "停滞"], _REAL_ESTATE),
    "zh/TEST_NET_Y0000000000_-KTKHdZ2fb8_S00000.wav": ([], []),
    "zh/funasr_example_0.wav": (["达摩院", "语音识别模型"], _SPEECH_AI),
    "zh/funasr_example_1.wav": (["绝对正义", "相对正义"], _DEBATE),
    "zh/funasr_example_2.wav": (["英国脱欧", "欧盟", "产业链", "红利"], _TRADE),
    "en/jfk.flac": (["Americans"], _SPEECH),
    "en/librispeech-1995-1837-0001.wav": (["cotton"], _COTTON),
    "en/2412-153948-0000.flac": (["antecedents", "narrative"], _MEMOIR),
    "en/funasr_example_4.wav": (["nightfall", "squalid", "brothels"], []),
    "en/LJ001-0001.flac": (["printing", "Exhibition", "arts and crafts"], _PRINTING),
    "en/LJ001-0002.flac": ([], _PRINTING),
    "en/LJ001-0003.flac": (["Chinese", "wood blocks", "relief", "woodcutters", "Netherlands"],
                           _PRINTING),
    "en/LJ001-0004.flac": (["block books", "printed book"], _PRINTING),
    "en/speechbrain_example1.wav": (["birch canoe", "planks"], []),
    "en/speechbrain_spk1_snt5.wav": (["Sunday"], []),
    # the other Harvard sentences: no named entity, domain term or rare word → no list
}
CONDITIONS = ("none", "job", "unrelated")


def clip_vocabulary(name: str) -> list[str]:
    spoken, topic = VOCABULARY.get(name, ([], []))
    return sorted(set(spoken) | set(topic))


def spoken_terms(name: str) -> list[str]:
    return VOCABULARY.get(name, ([], []))[0]


def intrusions(reference: str, output: str, given: list[str]) -> list[str]:
    """Terms of the list given that appear in the output but are not in the reference."""
    ref, out = synth.term_key(reference), synth.term_key(output)
    return [t for t in given if synth.term_key(t) in out and synth.term_key(t) not in ref]


def given_for(condition: str, name: str, language: str) -> list[str]:
    if condition == "job":
        return clip_vocabulary(name)
    if condition == "unrelated":
        return synth.TERMS[language]
    return []


async def run(languages: list[str], which: str = "all") -> dict[str, Any]:
    prepare_whisper_base(ROOT / "models")
    engine = WhisperEngine.from_settings(ASR, ROOT / "models")
    engine.warm_up()
    at_start = machine()
    clips = [c for c in load_clips() if c.language in languages
             and which in ("all", clip_set(c.name))]
    rows: list[dict[str, Any]] = []
    async with AsrScheduler(engine, workers=ASR.workers) as scheduler:
        for n, clip in enumerate(clips, 1):
            progress(f"{clip.name} {n}/{len(clips)} ({clip.seconds:.1f} s)")
            sc = synth.Clip(clip.language, clip.reference, spoken_terms(clip.name), clip.audio)
            row: dict[str, Any] = {
                "clip": clip.name, "language": clip.language, "set": clip_set(clip.name),
                "human_reference": clip.human, "reference": clip.reference,
                "seconds": round(clip.seconds, 2), "spoken_terms": sc.terms,
                "job_vocabulary": clip_vocabulary(clip.name),
            }
            for cond in CONDITIONS:
                given = given_for(cond, clip.name, clip.language)
                if cond == "job" and not given:  # no list for this clip: same as none
                    row["job"] = dict(row["none"])
                    continue
                res = {}
                for path in ("record", "streaming"):
                    if path == "record":
                        text = await synth.record_text(scheduler, sc, given)
                    else:
                        text = await synth.stream_text(scheduler, sc, hotwords(given))
                    res[path] = {
                        "text": text,
                        "error_rate": error_rate(clip.language, [clip.reference], [text]),
                        "terms_found": synth.terms_found(text, sc.terms),
                        "intrusions": intrusions(clip.reference, text, given),
                    }
                row[cond] = res
            rows.append(row)
    groups: dict[str, Any] = {}
    for lang in languages:
        for grade in (True, False):
            for cset in ("tuned", "held"):
                sub = [r for r in rows if r["language"] == lang and r["set"] == cset
                       and r["human_reference"] == grade]
                if not sub:
                    continue
                key = f"{lang} {cset}" + ("" if grade else " model-ref")
                groups[key] = summarise(lang, sub)
    return {
        "model": "whisper-base int8 (bundled)" if ASR.model == "bundled-base"
        else f"{ASR.model} {ASR.compute_type}",
        "speech": "real human recordings from ../shared/data (see transcripts.tsv)",
        "clip_set": which,
        "hotwords_example": hotwords(clip_vocabulary("zh/funasr_example_0.wav")),
        "question": synth.QUESTION,
        "unrelated_vocabulary": {lang: synth.TERMS[lang] for lang in languages},
        "machine_at_start": at_start,
        "groups": groups,
        "clips": rows,
    }


def summarise(language: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"clips": [r["clip"] for r in rows],
                           "seconds": round(sum(r["seconds"] for r in rows), 1)}
    terms = sum(len(r["spoken_terms"]) for r in rows)
    for cond in CONDITIONS:
        for path in ("record", "streaming"):
            out[f"{path} {cond}"] = {
                "error_rate": error_rate(language, [r["reference"] for r in rows],
                                         [r[cond][path]["text"] for r in rows]),
                "terms_found": sum(r[cond][path]["terms_found"] for r in rows),
                "terms": terms,
                "intrusions": sum(len(r[cond][path]["intrusions"]) for r in rows),
            }
    return out


def print_table(r: dict[str, Any]) -> None:
    print(f"\nJob vocabulary on real speech ({r['model']}); error = CER zh / WER en; "
          "recall = spoken terms found; intr = list terms output but not said")
    print(f"{'group':18} {'pass':9} " + " ".join(f"{c + ' err/recall/intr':>26}"
                                               for c in CONDITIONS))
    for key, g in r["groups"].items():
        for path in ("record", "streaming"):
            cells = []
            for c in CONDITIONS:
                d = g[f"{path} {c}"]
                cells.append(f"{d['error_rate']:.3f} {d['terms_found']:>2}/{d['terms']:<2} "
                             f"{d['intrusions']:>2}")
            print(f"{key:18} {path:9} " + " ".join(f"{x:>26}" for x in cells))
    print("\nper clip (record / streaming text):")
    for row in r["clips"]:
        print(f"- {row['clip']} [{row['set']}] ref: {row['reference']}")
        for c in CONDITIONS:
            for path in ("record", "streaming"):
                d = row[c][path]
                print(f"    {c:9} {path:9} {d['error_rate']:.3f} {d['terms_found']}/"
                      f"{len(row['spoken_terms'])} {d['intrusions']} | {d['text']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lang", default="zh,en", help="languages (e.g. zh)")
    parser.add_argument("--set", default="all", choices=("tuned", "held", "all"),
                        help="clip set (bench/transcription.py HELD_APART)")
    parser.add_argument("--out", default=str(OUT), help="where to write the JSON")
    args = parser.parse_args()
    if not (SHARED / "transcripts.tsv").exists():
        print(f"skipped: {SHARED} is not present (real clips are not part of the repository)")
        raise SystemExit(0)
    res = asyncio.run(run(args.lang.split(","), args.set))
    res["machine_at_end"] = machine()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2, ensure_ascii=False))
    print_table(res)
    print(f"\nwritten {out}")
