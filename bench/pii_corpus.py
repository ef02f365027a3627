"""A labelled bilingual PII corpus for the redaction benchmark (deterministic, checksum-valid values).

Each message is a WeChat fragment, e-mail or meeting note in Chinese, English or both, with gold spans for
the four scored groups (``id``, ``card``, ``phone``, ``email``) and spans of PII-free look-alikes (order
numbers, amounts, dates, versions, quote ids, product models) that must survive.

    python bench/pii_corpus.py -n 1200 > corpus.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import re
import string
from dataclasses import asdict, dataclass, field

from services.ingestion.redaction.checksums import cn_id_check_char, luhn_check_digit

GROUPS = ("id", "card", "phone", "email")
LOOKALIKES = ("order", "amount", "date", "version", "quote", "model")
FULLWIDTH = str.maketrans(string.digits, "０１２３４５６７８９")


@dataclass
class Message:
    text: str
    language: str
    spans: list[tuple[int, int, str]] = field(default_factory=list)  # gold PII: start, end, group
    lookalikes: list[tuple[int, int, str]] = field(default_factory=list)


ZH = [
    "王先生您好，我的手机{phone}，邮箱{email}，身份证{id}。{order}的尾款{amount}下周付。",
    "[微信] 张经理：合同已盖章，卡号{card}，户名李娜，{date}前打款，金额{amount}。",
    "客户说手机号是{phone}，有问题发邮件到{email}就行。报价单{quote}已发。",
    "麻烦登记一下身份证号{id}，银行卡{card}，联系电话{phone}。",
    "{date}回访：客户对{model}很感兴趣，预算{amount}，订单{order}，电话{phone}",
    "刘总，发票抬头已改，{order}，开票金额{amount}，收票邮箱{email}",
    "你好，我是采购部的，手机{phone}，微信同号。我们在看{model}，系统版本{version}。",
    "身份证：{id}\n卡号：{card}\n手机：{phone}\n邮箱：{email}",
    "下单了，{order}，{amount}，{date}发货。有事打{phone}。",
    "周会纪要：{quote}报价{amount}，{model}交付排期{date}，版本{version}。",
]
EN = [
    "Hi team, please reach Mr. Brown at {phone} or {email}. PO {order}, total {amount}, due {date}.",
    "Meeting notes {date}: customer wants {model}; quote {quote} at {amount}. Contact: {email}, {phone}.",
    "Card on file: {card}. Billing contact {email}. Invoice {order} for {amount}.",
    "Call me on {phone} tomorrow. We run version {version} and need {model} pricing.",
    "Dear Sarah,\nthe ID on the form is {id} and the card is {card}. Thanks, Tom ({email})",
    "Follow-up: {quote} approved, ship {model} by {date}. Questions: {phone}.",
    "Please update the record: email {email}, mobile {phone}, ID {id}.",
    "Order {order} paid {amount} with card {card} on {date}.",
]
MIXED = [
    "Hi 王总, 合同我发到你邮箱{email}了，有问题call我{phone}。Quote {quote} total {amount}.",
    "这个deal的card number是{card}，customer ID card {id}，下周{date} follow up。",
    "FYI 客户换了新手机{phone}, email还是{email}. 他们在测{model}, version {version}.",
    "Recap: 订单{order}，amount {amount}，请用卡{card}付款，联系人电话{phone}。",
    "王经理 said the ID number is {id}, 邮箱{email}, meeting on {date}.",
]
REGIONS = ["110105", "310104", "440305", "320102", "330106", "510107", "420106", "610113", "370202", "500103"]
DOMAINS = ["example.com", "acme.cn", "mail.example.com.cn", "corp.io", "qq.com", "163.com", "sales.example.org"]
LOCALS = ["zhang.wei", "li_na", "wang88", "tom.baker", "sarah.connor", "chen.jing", "liu-jianguo", "m.johnson"]


def _id(rng: random.Random) -> str:
    birth = f"{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    body = rng.choice(REGIONS) + birth + f"{rng.randint(0, 999):03d}"
    value = body + cn_id_check_char(body)
    style = rng.random()
    if style < 0.15:
        return f"{value[:6]} {value[6:14]} {value[14:]}"
    if style < 0.25:
        return value.lower()
    return value


def _card(rng: random.Random) -> str:
    prefix, length = rng.choice([("622202", 19), ("621700", 19), ("622848", 16), ("4", 16), ("5", 16), ("37", 15)])
    if prefix == "5":
        prefix = f"5{rng.randint(1, 5)}"
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    card = body + luhn_check_digit(body)
    style = rng.random()
    if style < 0.3:
        return " ".join(card[i : i + 4] for i in range(0, len(card), 4))
    if style < 0.4:
        return "-".join(card[i : i + 4] for i in range(0, len(card), 4))
    return card


def _phone(rng: random.Random) -> str:
    mobile = f"1{rng.choice('3456789')}{rng.randint(0, 9)}{rng.randint(0, 99999999):08d}"
    style = rng.random()
    if style < 0.35:
        return mobile
    if style < 0.5:
        return f"{mobile[:3]} {mobile[3:7]} {mobile[7:]}"
    if style < 0.6:
        return f"{mobile[:3]}-{mobile[3:7]}-{mobile[7:]}"
    if style < 0.7:
        return f"+86 {mobile}"
    if style < 0.75:
        return mobile.translate(FULLWIDTH)
    if style < 0.87:
        return f"0{rng.choice(['10', '21', '755', '571'])}-{rng.randint(2, 8)}{rng.randint(0, 9999999):07d}"
    return f"+44 20 7946 {rng.randint(0, 9999):04d}" if style < 0.93 else f"+1 415-555-{rng.randint(0, 9999):04d}"


def _email(rng: random.Random) -> str:
    value = f"{rng.choice(LOCALS)}{rng.randint(1, 99) if rng.random() < 0.4 else ''}@{rng.choice(DOMAINS)}"
    return value.upper() if rng.random() < 0.05 else value


def _lookalike(kind: str, rng: random.Random) -> str:
    if kind == "order":
        return rng.choice(
            [
                f"订单号2024{rng.randint(10**11, 10**12 - 1)}",
                f"SO-2024-{rng.randint(0, 99999):05d}",
                f"PO{rng.randint(10**9, 10**10 - 1)}",
                f"INV-2024{rng.randint(1, 12):02d}-{rng.randint(1, 999):03d}",
            ]
        )
    if kind == "amount":
        return rng.choice(
            [
                f"¥{rng.randint(1, 999)},{rng.randint(0, 999):03d}.00",
                f"{rng.randint(1, 99)}万",
                f"${rng.randint(1, 99)},{rng.randint(0, 999):03d}.{rng.randint(0, 99):02d}",
                "RMB 128,000",
            ]
        )
    if kind == "date":
        y, m, d = 2024, rng.randint(1, 12), rng.randint(1, 28)
        return rng.choice([f"{y}-{m:02d}-{d:02d}", f"{y}年{m}月{d}日", f"{m}/{d}/{y}", f"{y}.{m:02d}.{d:02d}"])
    if kind == "version":
        return f"v{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 99)}"
    if kind == "quote":
        return f"Q-2024-{rng.randint(1, 9999):04d}"
    return rng.choice(["RTX-4090", "iPhone 15", "Model S", "ThinkPad X1", "Mate 60 Pro", "A100-80G"])


GENERATORS = {"id": _id, "card": _card, "phone": _phone, "email": _email}
_SLOT = re.compile(r"\{(\w+)\}")


def _render(template: str, language: str, rng: random.Random) -> Message:
    message = Message("", language)
    pieces: list[str] = []
    cursor = 0
    length = 0
    for match in _SLOT.finditer(template):
        literal = template[cursor : match.start()]
        pieces.append(literal)
        length += len(literal)
        slot = match.group(1)
        value = GENERATORS[slot](rng) if slot in GENERATORS else _lookalike(slot, rng)
        target = message.spans if slot in GENERATORS else message.lookalikes
        target.append((length, length + len(value), slot))
        pieces.append(value)
        length += len(value)
        cursor = match.end()
    pieces.append(template[cursor:])
    message.text = "".join(pieces)
    return message


def generate(n: int = 1200, seed: int = 20240315) -> list[Message]:
    """``n`` messages, about 45% Chinese, 35% English, 20% mixed."""
    rng = random.Random(seed)
    messages = []
    for _ in range(n):
        roll = rng.random()
        language, templates = ("zh", ZH) if roll < 0.45 else ("en", EN) if roll < 0.8 else ("mixed", MIXED)
        messages.append(_render(rng.choice(templates), language, rng))
    return messages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=20240315)
    args = parser.parse_args()
    for message in generate(args.n, args.seed):
        print(json.dumps(asdict(message), ensure_ascii=False))


if __name__ == "__main__":
    main()
