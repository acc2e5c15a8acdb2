"""What the candidate reads and hears, in each interview language.

Acknowledgements are deliberately neutral: they never hint at a score, and nothing
here says whether a question came from the plan, a rule, a model or a person.
"""

from __future__ import annotations

from analysis.competency.model import Language

GREETING: dict[Language, str] = {
    "en": (
        "Hello, and thank you for joining. I'm the interviewer for the {job_title} role. "
        "I'll ask you about {count} questions about your experience; there is no trick and "
        "no single right answer. Concrete examples from your own work help most. "
        "We'll start with a short practice question that doesn't count. "
        'Press "Ready" when you\'d like to begin.'
    ),
    "zh": (
        "您好，感谢您参加面试。我是{job_title}岗位的面试官。"
        "接下来我会问您大约 {count} 个关于工作经历的问题，没有标准答案，"
        "请尽量结合您亲身经历的具体例子来回答。"
        "我们先从一道不计分的练习题开始。准备好后请点击“准备好了”。"
    ),
}

PRACTICE_QUESTION: dict[Language, str] = {
    "en": "To warm up: please tell me briefly about your current or most recent role.",
    "zh": "先热热身：请简单介绍一下您目前或最近的一份工作。",
}

ACKNOWLEDGEMENTS: dict[Language, tuple[str, ...]] = {
    "en": (
        "Thanks, that example is clear.",
        "Thank you for sharing that.",
        "Thanks, that's helpful.",
        "Thank you, let's continue.",
    ),
    "zh": (
        "谢谢，这个例子很清楚。",
        "谢谢您的分享。",
        "好的，谢谢，这很有帮助。",
        "谢谢，我们继续。",
    ),
}

PRACTICE_DONE: dict[Language, str] = {
    "en": "Thank you, that's the practice done. Now the interview questions begin.",
    "zh": "谢谢，练习题结束了。下面开始正式的面试问题。",
}

COMPLETION: dict[Language, str] = {
    "en": "That was the last question. Thank you for your time and your answers.",
    "zh": "这是最后一个问题。感谢您抽出时间，也感谢您的回答。",
}

NEXT_STEPS: dict[Language, str] = {
    "en": (
        "Your interview has been saved. The hiring team will review it and contact you "
        "about the next steps, usually within a few working days. You can close this page now."
    ),
    "zh": (
        "您的面试已保存。招聘团队会进行评估，并通常在几个工作日内联系您告知后续安排。"
        "现在可以关闭此页面了。"
    ),
}

PROGRESS: dict[Language, str] = {
    "en": "Question {index} of {total}",
    "zh": "第 {index} 题，共 {total} 题",
}

PRACTICE_LABEL: dict[Language, str] = {"en": "Practice question", "zh": "练习题"}

FOLLOWUP_LABEL: dict[Language, str] = {
    "en": "Question {index} of {total}, follow-up",
    "zh": "第 {index} 题，共 {total} 题（追问）",
}


def acknowledgement(language: Language, counter: int) -> str:
    """A neutral thank-you; rotates so it does not sound mechanical."""
    options = ACKNOWLEDGEMENTS[language]
    return options[counter % len(options)]
