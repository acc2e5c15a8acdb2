"""The printable report: fpdf2 with an embedded CJK TrueType font so Mandarin renders.

The font comes from the system (scripts/install.sh installs fonts-wqy-microhei). Without
any CJK font the PDF still renders, in a core font, with non-Latin text replaced by "?"
and a line saying which package to install.
"""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

from analysis.scoring import InterviewReport
from server.reports.view import ReportView

CJK_FONTS: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
)

LABELS: dict[str, dict[str, str]] = {
    "title": {"en": "Interview report", "zh": "面试报告"},
    "no_ai": {
        "en": "No AI scores: the candidate did not agree to AI analysis or withdrew it. "
        "People review the recording and rate without them.",
        "zh": "没有 AI 评分：候选人未同意或已撤回 AI 分析。由人工观看录像并评分。",
    },
    "candidate": {"en": "Candidate", "zh": "候选人"},
    "job": {"en": "Job", "zh": "岗位"},
    "date": {"en": "Interview", "zh": "面试时间"},
    "total": {"en": "AI total", "zh": "AI 总分"},
    "scorer": {"en": "Scorer version", "zh": "评分版本"},
    "status": {"en": "Status", "zh": "状态"},
    "scores": {"en": "AI scores and human ratings", "zh": "AI 评分与人工评分"},
    "competency": {"en": "Competency", "zh": "能力"},
    "ai": {"en": "AI", "zh": "AI"},
    "human": {"en": "Human", "zh": "人工"},
    "diff": {"en": "AI − human", "zh": "差值"},
    "focus": {"en": "Focus points for the human interview", "zh": "人工面试重点"},
    "evidence": {"en": "Evidence per competency", "zh": "各项能力的证据"},
    "insufficient": {"en": "insufficient evidence", "zh": "证据不足"},
    "support": {"en": "supports", "zh": "支持"},
    "against": {"en": "counts against", "zh": "不利"},
    "not_addressed": {"en": "not addressed", "zh": "未涉及"},
    "followups": {"en": "Follow-ups asked and why", "zh": "追问及原因"},
    "injected": {"en": "Questions from observers", "zh": "观察者提出的问题"},
    "delivery": {"en": "Delivery summary", "zh": "表达概况"},
    "delivery_note": {
        "en": "Observable measures only, no emotion inference. Used in the score: {used}.",
        "zh": "仅为可观察的指标，不推断情绪。计入评分：{used}。",
    },
    "yes": {"en": "yes (low weight)", "zh": "是（低权重）"},
    "no": {"en": "no", "zh": "否"},
    "decisions": {"en": "Human decisions", "zh": "人工决定"},
    "none": {"en": "None yet.", "zh": "暂无。"},
    "disclaimer": {
        "en": "The AI score is a recommendation. Moving a candidate forward or rejecting them "
        "is always a recorded human decision.",
        "zh": "AI 评分仅为建议。候选人进入下一轮或被拒绝，始终由人作出并记录决定。",
    },
    "st_awaiting_review": {"en": "awaiting review", "zh": "待评估"},
    "st_advanced": {"en": "advanced", "zh": "进入下一轮"},
    "st_on_hold": {"en": "on hold", "zh": "待定"},
    "st_rejected": {"en": "not advanced", "zh": "不通过"},
    "rate": {"en": "rate", "zh": "语速"},
    "pauses": {"en": "pauses", "zh": "停顿占比"},
    "fillers": {"en": "fillers", "zh": "口头禅"},
    "facing": {"en": "facing camera", "zh": "面向镜头"},
}

DEEP = (33, 37, 41)
MUTED = (108, 117, 125)
HIGHLIGHT = (255, 236, 179)


def find_cjk_font() -> Path | None:
    """The first installed CJK font of CJK_FONTS."""
    return next((p for p in CJK_FONTS if p.exists()), None)


def _mmss(t: float) -> str:
    t = max(0, int(t))
    return f"{t // 60:d}:{t % 60:02d}"


def _num(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


class _Doc(FPDF):
    def __init__(self, language: str) -> None:
        super().__init__(format="A4")
        self.language = language if language in ("zh", "en") else "en"
        font = find_cjk_font()
        self.unicode = font is not None
        if font is not None:
            self.add_font("cjk", fname=str(font))
            self.family = "cjk"
        else:
            self.family = "helvetica"
        self.set_auto_page_break(auto=True, margin=15)
        self.set_margins(15, 15, 15)

    def label(self, key: str, **values: str) -> str:
        return LABELS[key][self.language].format(**values)

    def clean(self, text: str) -> str:
        if self.unicode:
            return text
        return text.encode("latin-1", "replace").decode("latin-1")

    def text_(self, text: str, size: float = 10, color: tuple[int, int, int] = DEEP) -> None:
        self.set_font(self.family, size=size)
        self.set_text_color(*color)
        self.multi_cell(0, size * 0.5, self.clean(text), new_x="LMARGIN", new_y="NEXT")

    def heading(self, text: str, size: float = 13) -> None:
        self.ln(3)
        self.text_(text, size=size)
        self.set_draw_color(*MUTED)
        self.line(self.l_margin, self.get_y() + 0.5, self.w - self.r_margin, self.get_y() + 0.5)
        self.ln(2)

    def row(self, cells: list[tuple[str, float]], fill: bool = False, size: float = 10) -> None:
        self.set_font(self.family, size=size)
        self.set_text_color(*DEEP)
        self.set_fill_color(*HIGHLIGHT)
        for text, width in cells:
            self.cell(width, 7, self.clean(text), border=1, fill=fill)
        self.ln(7)


def render_pdf(view: ReportView) -> bytes:
    """The report as PDF bytes (blocking: call it in a worker thread)."""
    report = view.report
    doc = _Doc(report.score.language if report else view.interview.language)
    doc.add_page()
    doc.text_(f"Candor · {doc.label('title')}", size=18)
    info = view.interview
    when = info.started_at.strftime("%Y-%m-%d %H:%M UTC") if info.started_at else "—"
    doc.text_(
        f"{doc.label('candidate')}: {info.candidate}    {doc.label('job')}: {info.job_title}    "
        f"{doc.label('date')}: {when}",
        size=10,
        color=MUTED,
    )
    doc.ln(2)
    if report is None:
        _without_ai(doc, view)
    else:
        _with_ai(doc, view, report)
    _interview_sections(doc, view)
    if not doc.unicode:
        doc.text_("Install fonts-wqy-microhei to print Chinese text.", size=8, color=MUTED)
    return bytes(doc.output())


def _without_ai(doc: _Doc, view: ReportView) -> None:
    """No AI analysis (declined or withdrawn): status and human ratings only."""
    status = doc.label("st_" + view.status.status) if view.status else "—"
    doc.text_(f"{doc.label('status')}: {status}", size=12)
    doc.text_(doc.label("no_ai"), size=10)
    doc.heading(doc.label("human"))
    by_id: dict[str, list[float]] = {}
    for r in view.ratings:
        by_id.setdefault(r.competency_id, []).append(r.value)
    for c in view.competencies:
        values = by_id.get(c.competency_id, [])
        mean = f"{sum(values) / len(values):.1f} / 5 (n={len(values)})" if values else "—"
        doc.text_(f"• {c.name}: {mean}", size=10)


def _with_ai(doc: _Doc, view: ReportView, report: InterviewReport) -> None:
    """AI total, scores beside human ratings, focus points and evidence."""
    score = report.score
    status = doc.label("st_" + report.status.status)
    doc.text_(
        f"{doc.label('total')}: {_num(score.total)} / 100    {doc.label('scorer')}: "
        f"{score.scorer_version}    {doc.label('status')}: {status}",
        size=12,
    )
    doc.text_(score.recommendation.text, size=10)
    doc.text_(doc.label("disclaimer"), size=9, color=MUTED)

    doc.heading(doc.label("scores"))
    widths = [85.0, 25.0, 35.0, 35.0]
    doc.row(
        [
            (doc.label("competency"), widths[0]),
            (doc.label("ai"), widths[1]),
            (doc.label("human"), widths[2]),
            (doc.label("diff"), widths[3]),
        ]
    )
    for d in report.rating_differences:
        ai = _num(d.ai) if d.ai is not None else doc.label("insufficient")
        human = f"{_num(d.human)} (n={d.raters})" if d.human is not None else "—"
        diff = f"{d.difference:+.0f}" if d.difference is not None else "—"
        doc.row(
            [(d.name, widths[0]), (ai, widths[1]), (human, widths[2]), (diff, widths[3])],
            fill=d.highlighted,
        )

    doc.heading(doc.label("focus"))
    for point in report.focus_points:
        doc.text_(f"• {point.text}")
    if not report.focus_points:
        doc.text_(doc.label("none"), color=MUTED)

    doc.heading(doc.label("evidence"))
    for c in score.competencies:
        head = (
            f"{c.name} — {_num(c.score)}"
            if c.score is not None
            else (f"{c.name} — {doc.label('insufficient')}")
        )
        doc.text_(head, size=11)
        for reason in c.reasons:
            doc.text_(f"  {reason.message}", size=9, color=MUTED)
        for ev in c.indicators:
            doc.text_(f"  {ev.indicator} ({doc.label(_status_key(ev.status))})", size=9)
            for q in ev.support[:3]:
                doc.text_(f"    + [{_mmss(q.start)}] “{q.text}”", size=9)
            for q in ev.against[:2]:
                doc.text_(f"    − [{_mmss(q.start)}] “{q.text}”", size=9, color=MUTED)
        doc.ln(1)


def _interview_sections(doc: _Doc, view: ReportView) -> None:
    """Follow-ups, observers' questions, delivery and decisions."""
    doc.heading(doc.label("followups"))
    for f in view.followups:
        doc.text_(f"• [{_mmss(f.t)}] {f.text} ({f.outcome})", size=10)
        doc.text_(f"    {f.reason}", size=9, color=MUTED)
    if not view.followups:
        doc.text_(doc.label("none"), color=MUTED)
    if view.injected:
        doc.heading(doc.label("injected"))
        for i in view.injected:
            doc.text_(f"• [{_mmss(i.t)}] {i.text} — {i.by}", size=10)

    doc.heading(doc.label("delivery"))
    used = doc.label("yes") if view.delivery_used_in_score else doc.label("no")
    doc.text_(doc.label("delivery_note", used=used), size=9, color=MUTED)
    for item in view.delivery:
        parts = []
        if item.speaking_rate is not None:
            unit = "wpm" if item.unit == "word" else "cpm"
            parts.append(f"{doc.label('rate')} {item.speaking_rate:.0f} {unit}")
        if item.pause_ratio is not None:
            parts.append(f"{doc.label('pauses')} {item.pause_ratio:.0%}")
        if item.fillers is not None:
            parts.append(f"{doc.label('fillers')} {item.fillers}")
        if item.share_facing is not None:
            parts.append(f"{doc.label('facing')} {item.share_facing:.0%}")
        doc.text_(f"• [{_mmss(item.start)}–{_mmss(item.end)}] " + ", ".join(parts), size=10)
    if not view.delivery:
        doc.text_(doc.label("none"), color=MUTED)

    doc.heading(doc.label("decisions"))
    for decision in view.decisions:
        note = f" — {decision.note}" if decision.note else ""
        doc.text_(
            f"• {decision.at:%Y-%m-%d %H:%M} UTC · {decision.person} · {decision.decision}{note}",
            size=10,
        )
    if not view.decisions:
        doc.text_(doc.label("none"), color=MUTED)


def _status_key(status: str) -> str:
    return {"supported": "support", "against": "against", "mixed": "support"}.get(
        status, "not_addressed"
    )
