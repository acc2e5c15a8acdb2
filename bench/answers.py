"""Answer benchmark: does the score follow the level an answer was written to, and resist traps?

Usage: .venv/bin/python bench/answers.py [--quick]
Reads bench/answers/*.yaml (answers written to the anchors of the built-in templates at
levels 1-5, plus traps), scores each with the server's scorer and the role's template,
prints a table and writes bench/results/answers.json. Files marked ``held_out: true`` were
written before any tuning and are reported apart.

Figures: Spearman rho of score vs level per language; share of keyword lists scored below
the level-3 answer of the same question; share of wrong-competency stories flagged
``off_competency``; share of rambling answers below level 3; share of non-native answers at
or above level 3; mean absolute score change under 10 % and 20 % simulated transcription
noise (on the level 3-5 and non-native answers). Unscored answers count as 0.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from scipy import stats

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from analysis.competency.model import CompetencyModel, Language  # noqa: E402
from analysis.competency.templates import load_template  # noqa: E402
from analysis.scoring.scorer import AnswerScore, score_interview  # noqa: E402
from analysis.scoring.transcript import answer_from_text  # noqa: E402

DATA = ROOT / "bench" / "answers"
RESULTS = ROOT / "bench" / "results" / "answers.json"
NOISE_LEVELS = (0.1, 0.2)
TARGETS = {"rho": 0.9, "keywords_below_level3": 1.0, "wrong_flagged": 0.9, "noise10": 5.0}
# Common characters used as substitutions in simulated Mandarin recognition errors.
_ZH_CONFUSIONS = (
    "的是在有和了人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过"
    "子说产种面而方后多定行学法所民得经"
)


@dataclass(frozen=True)
class Item:
    """One benchmark answer: its text, its intended level or trap kind, and where it is from."""

    role: str
    language: Language
    question_id: str
    competency: str
    kind: str  # "level", "keywords", "wrong_competency", "rambling", "non_native"
    text: str
    level: int = 0
    shown_competency: str = ""
    held_out: bool = False


@dataclass
class Outcome:
    """How the scorer judged one item."""

    item: Item
    score: float
    status: str
    reasons: list[str] = field(default_factory=list)
    noisy: dict[str, float] = field(default_factory=dict)


def load_items(files: Iterable[Path] | None = None) -> list[Item]:
    """Every benchmark item of the given YAML files (all of bench/answers by default)."""
    items: list[Item] = []
    for path in sorted(files if files is not None else DATA.glob("*.yaml")):
        data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
        base = {
            "role": data["role"],
            "language": data["language"],
            "held_out": bool(data.get("held_out", False)),
        }
        for q in data["questions"]:
            common = {**base, "question_id": q["question_id"], "competency": q["competency"]}
            for level, text in sorted(q["levels"].items()):
                items.append(Item(kind="level", text=text, level=int(level), **common))
            for kind in ("keywords", "rambling", "non_native"):
                if kind in q:
                    items.append(Item(kind=kind, text=q[kind], **common))
            wrong = q.get("wrong_competency")
            if wrong:
                items.append(
                    Item(
                        kind="wrong_competency",
                        text=wrong["text"],
                        shown_competency=wrong["competency"],
                        **common,
                    )
                )
    return items


def add_noise(text: str, rate: float, language: Language, seed: int = 7) -> str:
    """Simulated transcription errors: about ``rate`` of words (en) or characters (zh) changed."""
    rng = random.Random(f"{seed}:{rate}:{text[:40]}")
    if language == "zh":
        out: list[str] = []
        for ch in text:
            if "\u4e00" <= ch <= "\u9fff" and rng.random() < rate:
                op = rng.random()
                if op < 0.6:
                    out.append(rng.choice(_ZH_CONFUSIONS))
                elif op < 0.8:
                    continue
                else:
                    out.extend([ch, rng.choice(_ZH_CONFUSIONS)])
            else:
                out.append(ch)
        return "".join(out)
    words = text.split(" ")
    noisy: list[str] = []
    for word in words:
        if rng.random() >= rate or not word:
            noisy.append(word)
            continue
        op = rng.random()
        core = word.rstrip(".,;:!?")
        tail = word[len(core) :]
        if op < 0.4 and len(core) > 3:
            i = rng.randrange(1, len(core) - 1)
            noisy.append(core[:i] + core[i + 1] + core[i] + core[i + 2 :] + tail)
        elif op < 0.7 and len(core) > 2:
            i = rng.randrange(len(core))
            noisy.append(core[:i] + rng.choice("aeiourstnl") + core[i + 1 :] + tail)
        elif op < 0.85:
            noisy.append(tail)
        else:
            noisy.append(word + " " + rng.choice(("uh", "the", "a", "and")))
    return " ".join(w for w in noisy if w)


Scorer = Callable[[Item, str, CompetencyModel], AnswerScore]


def default_scorer(item: Item, text: str, model: CompetencyModel) -> AnswerScore:
    """Score ``text`` as the answer to the item's question, as the server would."""
    competency = model.competency(item.competency)
    question = next(q for q in competency.questions if q.id == item.question_id)
    answer = answer_from_text(
        item.question_id,
        text,
        item.language,
        question_text=question.text,
        competency_ids=[item.competency],
    )
    score = score_interview("bench", [answer], model)
    return score.competency(item.competency).answers[0]


def judge(items: list[Item], scorer: Scorer = default_scorer, noise: bool = True) -> list[Outcome]:
    """Score every item (and the noisy copies of the good answers)."""
    models: dict[tuple[str, str], CompetencyModel] = {}
    outcomes: list[Outcome] = []
    for item in items:
        key = (item.role, item.language)
        if key not in models:
            models[key] = load_template(item.role, item.language)
        model = models[key]
        result = scorer(item, item.text, model)
        outcome = Outcome(
            item=item,
            score=result.score if result.score is not None else 0.0,
            status=result.status,
            reasons=[r.code for r in result.reasons],
        )
        if noise and (item.level >= 3 or item.kind == "non_native"):
            for rate in NOISE_LEVELS:
                noisy = scorer(item, add_noise(item.text, rate, item.language), model)
                outcome.noisy[str(rate)] = noisy.score if noisy.score is not None else 0.0
        outcomes.append(outcome)
    return outcomes


def _share(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def summarise(outcomes: list[Outcome]) -> dict[str, Any]:
    """The benchmark figures for one group of outcomes."""
    levels = [o for o in outcomes if o.item.kind == "level"]
    rho = None
    if len({o.item.level for o in levels}) > 1:
        rho = round(
            float(stats.spearmanr([o.item.level for o in levels], [o.score for o in levels])[0]),
            4,
        )
    level3 = {
        (o.item.role, o.item.language, o.item.question_id): o.score
        for o in levels
        if o.item.level == 3
    }

    def below3(kind: str) -> list[bool]:
        return [
            o.score < level3[(o.item.role, o.item.language, o.item.question_id)]
            for o in outcomes
            if o.item.kind == kind
        ]

    changes: dict[str, float | None] = {}
    for rate in NOISE_LEVELS:
        diffs = [abs(o.noisy[str(rate)] - o.score) for o in outcomes if str(rate) in o.noisy]
        changes[str(rate)] = round(sum(diffs) / len(diffs), 2) if diffs else None
    return {
        "answers": len(outcomes),
        "rho": rho,
        "keywords_below_level3": _share(below3("keywords")),
        "wrong_flagged": _share(
            [
                "off_competency" in o.reasons
                for o in outcomes
                if o.item.kind == "wrong_competency"
            ]
        ),
        "rambling_below_level3": _share(below3("rambling")),
        "non_native_at_or_above_level3": _share([not b for b in below3("non_native")]),
        "noise_change": changes,
        "levels_set_aside": sum(1 for o in levels if o.status != "scored"),
        "levels_flagged_off_competency": sum(1 for o in levels if "off_competency" in o.reasons),
    }


def report(outcomes: list[Outcome]) -> dict[str, Any]:
    """Figures per split (tuning / held_out) and language, plus every outcome."""
    groups: dict[str, Any] = {}
    for split, held in (("tuning", False), ("held_out", True)):
        for language in ("en", "zh"):
            chosen = [
                o for o in outcomes if o.item.held_out == held and o.item.language == language
            ]
            if chosen:
                groups[f"{split}/{language}"] = summarise(chosen)
    return {
        "targets": TARGETS,
        "groups": groups,
        "outcomes": [
            {**asdict(o.item), "text": o.item.text[:60], "score": o.score, "status": o.status,
             "reasons": o.reasons, "noisy": o.noisy}
            for o in outcomes
        ],
    }


def _table(result: dict[str, Any]) -> str:
    head = (
        f"{'group':<14}{'n':>4}{'rho':>7}{'kw<L3':>7}{'wrong':>7}{'ramb<L3':>8}{'nonnat':>7}"
        f"{'noise10':>8}{'noise20':>8}"
    )
    rows = [head]

    def f(v: Any) -> str:
        return "-" if v is None else f"{v:.2f}"

    for name, g in result["groups"].items():
        rows.append(
            f"{name:<14}{g['answers']:>4}{f(g['rho']):>7}{f(g['keywords_below_level3']):>7}"
            f"{f(g['wrong_flagged']):>7}{f(g['rambling_below_level3']):>8}"
            f"{f(g['non_native_at_or_above_level3']):>7}{f(g['noise_change']['0.1']):>8}"
            f"{f(g['noise_change']['0.2']):>8}"
        )
    return "\n".join(rows)


def _dump_outcomes(result: dict[str, Any]) -> None:
    for o in result["outcomes"]:
        print(
            f"{o['language']} {o['role'][:10]:<10} {o['question_id']:<5} {o['kind'][:10]:<10} "
            f"L{o['level']} {o['score']:6.1f} {o['status'][:6]} {','.join(o['reasons'])}"
        )


def main() -> None:
    """Run the benchmark, print the table and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="software engineer only, no noise")
    parser.add_argument(
        "--tuning", action="store_true", help="tuning answers only (never look at held-out)"
    )
    args = parser.parse_args()
    files = sorted(DATA.glob("software_engineer.*.yaml")) if args.quick else None
    items = load_items(files)
    if args.tuning:
        items = [i for i in items if not i.held_out]
    outcomes = judge(items, noise=not args.quick)
    result = report(outcomes)
    print(_table(result))
    if args.quick or args.tuning:
        _dump_outcomes(result)
        return
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
