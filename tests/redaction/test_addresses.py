"""Street addresses in Chinese and English."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "text, value",
    [
        ("地址：上海市浦东新区张江路123号5栋2单元501室，谢谢", "上海市浦东新区张江路123号5栋2单元501室"),
        ("寄到北京市朝阳区建国路88号", "北京市朝阳区建国路88号"),
        ("我住在南京西路1266号", "南京西路1266号"),
        ("广东省深圳市南山区科技园科苑路15号", "广东省深圳市南山区科技园科苑路15号"),
        ("收货地址阳光花园3栋2单元1201室", "阳光花园3栋2单元1201室"),
        ("北京市海淀区中关村大街27号", "北京市海淀区中关村大街27号"),
        ("杭州市西湖区文三路90号东部软件园2号楼301，到了打电话", "杭州市西湖区文三路90号东部软件园2号楼301"),
        ("阳光花园5栋1203", "阳光花园5栋1203"),
        ("阳光花园3栋2024年交付", "阳光花园3栋"),  # a year after the building is not a room
    ],
)
def test_chinese_address_found(detect, text: str, value: str) -> None:
    assert ("ADDRESS", value) in detect(text)


@pytest.mark.parametrize(
    "text, value",
    [
        ("Ship to 221B Baker Street, London.", "221B Baker Street, London"),
        (
            "Our office is at 1600 Amphitheatre Parkway, Mountain View, CA 94043",
            "1600 Amphitheatre Parkway, Mountain View, CA 94043",
        ),
        ("send it to 42 Elm St. Apt 4", "42 Elm St. Apt 4"),
    ],
)
def test_english_address_found(detect, text: str, value: str) -> None:
    assert ("ADDRESS", value) in detect(text)


@pytest.mark.parametrize(
    "text",
    [
        "3号会议室见",
        "华东区的销售额增长了5万",
        "第2季度路线图",
        "2024年3月15日在市区开会",
        "we sold 3 Pro Max units",
        "v2 Road map",
    ],
)
def test_address_look_alikes_survive(detect, text: str) -> None:
    assert not any(t == "ADDRESS" for t, _ in detect(text))
