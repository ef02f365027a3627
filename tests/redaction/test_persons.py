"""Person names: Chinese (jieba + surnames + titles/cues) and English (spaCy NER + titles)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "text, value",
    [
        ("我是张伟，明天来公司", "张伟"),
        ("我叫王小明", "王小明"),
        ("请找陈静女士", "陈静"),
        ("采购部刘建国先生负责", "刘建国"),
        ("李娜经理说可以", "李娜"),
        ("王总您好，我们下周二见", "王"),
        ("联系人：欧阳娜娜，电话稍后给", "欧阳娜娜"),
        ("张伟说明天发合同", "张伟"),
        ("林总说可以", "林"),  # jieba glues title and verb onto the surname: 林总说
        ("朱总好，合同收到了", "朱"),
        ("司马懿经理明天到", "司马懿"),
        ("户名李娜", "李娜"),
        # an everyday word (zh_not_names.yaml) is a name when a title or a naming cue says so
        ("高峰先生您好", "高峰"),
        ("联系人：高峰", "高峰"),
        ("我叫高明", "高明"),
    ],
)
def test_chinese_name_found(detect, text: str, value: str) -> None:
    assert ("PERSON", value) in detect(text)


@pytest.mark.parametrize(
    "text",
    [
        "本周总结：价格确认",
        "我们是销售部",
        "华东区经理会议",
        "预算冻结了，下季度再说",
        "高新区的项目明天启动",
        "老板说总价不能再降",
        # everyday words jieba's dictionary tags as names (zh_not_names.yaml)
        "好的谢谢",
        "非常感谢，谢谢您",
        "黄金周之后再联系",
        "毛利太低了",
        "易用性很好",
        "许可证明天办好",
        "华为手机也在看",
        "宁可贵一点",
        "产品齐全",
        "高峰期人多",
        "高明的做法",
        "客户谢谢您的支持",
        # segmentation slips that end in a particle or verb
        "曾经谈过",
        "周会纪要：预算冻结",
    ],
)
def test_chinese_look_alikes_survive(detect, text: str) -> None:
    assert not any(t == "PERSON" for t, _ in detect(text))


@pytest.mark.parametrize(
    "text, value",
    [
        ("Please call Mr. Smith tomorrow", "Smith"),
        ("Dr. Emily Chen approved it", "Emily Chen"),
        ("Hi, my name is Alice Walker", "Alice Walker"),
    ],
)
def test_english_titled_names_without_spacy(detect, text: str, value: str) -> None:
    assert ("PERSON", value) in detect(text)


@pytest.mark.parametrize(
    "text, value",
    [
        ("Hi, this is John Smith from Acme Corp.", "John Smith"),
        ("Mary Johnson will send the contract on Friday.", "Mary Johnson"),
        ("王总说 Sarah Connor 下周来访", "Sarah Connor"),
    ],
)
def test_english_names_with_spacy(redactor, text: str, value: str) -> None:
    found = {(e.type, text[e.start : e.end]) for e in redactor.redact(text).entities}
    assert ("PERSON", value) in found


@pytest.mark.parametrize(
    "text",
    [
        "We shipped 2 RTX-4090 cards and an iPhone 15 Pro.",
        "Version v2.3.1 fixes the bug.",
        "the quote q-2024-0012 is ready",
    ],
)
def test_english_look_alikes_survive(redactor, text: str) -> None:
    assert redactor.redact(text).entities == []


def test_spacy_not_run_for_chinese_only_text(redactor, monkeypatch) -> None:
    def boom(*args, **kwargs):
        raise AssertionError("spaCy must not run")

    monkeypatch.setattr(redactor.nlp_engine, "nlp", boom)
    assert redactor.redact("手机13812345678，邮箱zhang@x.com").text == "手机<PHONE_1>，邮箱<EMAIL_1>"
