"""Answers written for the scoring tests, in English and Mandarin (software engineer, lt-1)."""

from __future__ import annotations

QUESTION_EN = "Tell me about the hardest bug you have tracked down. How did you find it?"
QUESTION_ZH = "请讲一个你排查过的最难的 bug。你是怎么找到它的？"

SPECIFIC_EN = (
    "Last year at my previous company our payment service crashed about twice a week in "
    "production. My task was to find the root cause before the holiday sale. "
    "I collected the crash logs from 40 incidents in Grafana and formed three hypotheses: "
    "memory, a race condition, or a bad database driver. "
    "I tested each hypothesis with a load test and ruled out memory within two days. "
    "The bug was a race condition in the retry code, so I wrote a fix and added a "
    "regression test. As a result crashes dropped from eight a month to zero and p99 "
    "latency fell by 30 percent."
)
VAGUE_EN = (
    "I think bugs are always hard and I usually just look at the logs and try things until "
    "the bug goes away. Generally we would ask the team and maybe search online for the "
    "problem. I guess it depends on the situation, and normally it works out in the end."
)
OFF_TOPIC_EN = (
    "On weekends I like to go hiking in the mountains with my friends and my dog. "
    "We usually cook dinner together afterwards and watch a movie, which is very relaxing "
    "after a long week."
)

SPECIFIC_ZH = (
    "去年在上一家公司，我们的支付服务在线上每周会崩溃两次左右。"
    "我的任务是在大促之前找到根本原因。"
    "我先从 Grafana 收集了四十次故障的日志，提出了三个假设：内存泄漏、竞态条件和数据库驱动。"
    "我用压测逐个验证假设，两天内排除了内存问题。"
    "最后发现这个 bug 是重试代码里的竞态条件，我修改了代码并补了回归测试。"
    "结果故障从每月八次降到了零，接口延迟降低了百分之三十。"
)
VAGUE_ZH = (
    "我觉得排查 bug 一般都挺难的，通常就是看看日志，然后试一试，可能过一段时间就好了。"
    "我们一般会问问团队里的人，大概就是这样，应该都能解决的。"
)
OFF_TOPIC_ZH = (
    "周末我喜欢和朋友一起去爬山，有时候也带上我的狗。"
    "爬完山我们会一起做饭、看电影，这样放松一下，感觉非常舒服。"
)
