"""The answer benchmark in quick form: the targets hold on the software engineer answers."""

from __future__ import annotations

from bench.answers import DATA, TARGETS, judge, load_items, summarise


def test_the_quick_answer_benchmark_meets_the_targets_in_each_language() -> None:
    items = load_items(sorted(DATA.glob("software_engineer.*.yaml")))
    outcomes = judge(items)
    for language in ("en", "zh"):
        figures = summarise([o for o in outcomes if o.item.language == language])
        assert figures["rho"] is not None and figures["rho"] >= TARGETS["rho"], figures
        assert figures["keywords_below_level3"] == TARGETS["keywords_below_level3"], figures
        assert figures["wrong_flagged"] >= TARGETS["wrong_flagged"], figures
        assert figures["noise_change"]["0.1"] <= TARGETS["noise10"], figures


def test_noise_changes_the_text_by_about_the_rate() -> None:
    from bench.answers import add_noise

    text = "我们的订单服务晚上有时候会报错，我看了日志发现有很多连接数据库超时。" * 5
    noisy = add_noise(text, 0.1, "zh")
    changed = sum(a != b for a, b in zip(text, noisy, strict=False))
    assert noisy != text and changed > 0
    assert add_noise(text, 0.1, "zh") == noisy
