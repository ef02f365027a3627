"""Person names: Chinese (jieba ``nr`` tags + surname list + titles/cues) and English (spaCy NER + titles)."""

from __future__ import annotations

import logging
from functools import cache
from importlib import resources
from typing import Any

import regex
import yaml
from presidio_analyzer import EntityRecognizer, Pattern, RecognizerResult

from services.ingestion.redaction.recognizers.base import HAN, SalesPatternRecognizer

SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜"
    "崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛"
    "樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁"
    "冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米"
    "柏宗瞿桂全佟应臧闵苟邬边卞姬师仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩佘池查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥班储"
    "原栗燕楚鄢劳谌奚皮粟冼蔺楼闻厉伊仝郜阚权帅屠朴盖练廉禹井祖漆巴丰支卿狄计索宣晋相初容敬扈晁芮浦戈伏鹿薄"
    "邸雍辜羊裘亓修邰赫杭况宿鲜逯隆茹诸慕嵇湛戎勾茅於揭尉冶斯束檀昝幸植衡富尧"
)
COMPOUND_SURNAMES = frozenset(
    [
        "欧阳",
        "司马",
        "诸葛",
        "上官",
        "东方",
        "皇甫",
        "尉迟",
        "公孙",
        "慕容",
        "令狐",
        "夏侯",
        "长孙",
        "宇文",
        "司徒",
        "独孤",
        "端木",
        "南宫",
        "西门",
        "万俟",
        "轩辕",
    ]
)
#: Titles that follow a name; longest first so 总经理 wins over 总.
TITLES = tuple(
    sorted(
        [
            "先生",
            "女士",
            "小姐",
            "太太",
            "夫人",
            "经理",
            "总经理",
            "总监",
            "总裁",
            "总",
            "老师",
            "主任",
            "董事长",
            "董事",
            "博士",
            "律师",
            "医生",
            "老板",
            "主管",
            "部长",
            "处长",
            "科长",
            "局长",
            "院长",
            "校长",
            "教授",
            "工",
            "姐",
            "哥",
            "师傅",
            "助理",
            "专员",
            "顾问",
        ],
        key=len,
        reverse=True,
    )
)
_TITLE_SET = frozenset(TITLES)
_CUES = ("我是", "我叫", "名叫", "叫做", "姓名", "联系人", "负责人", "对接人", "收件人", "客户", "找")
#: cues that introduce a name and nothing else
_NAMING_CUES = ("我叫", "名叫", "叫做", "姓名", "联系人", "负责人", "对接人", "收件人", "户名")
#: A "name" directly followed by one of these is a place or an organisation (高新区, 李宁店).
_PLACE_SUFFIXES = frozenset("区市县省路街镇乡村厂店馆局院桥湖山")
_HAN_RUN = regex.compile(f"[{HAN}]{{2,}}")
#: Particles, pronouns and verbs that end a clause, not a name: a "name" ending in one is a segmentation slip
#: (谈过, 林总说, 谢谢您).
_NOT_NAME_END = frozenset("说过了的吗呢吧啊呀么是在到给跟也都就还要会请让把被对从很您你他她我们")
Token = tuple[str, str, int]


@cache
def not_names() -> frozenset[str]:
    """Words jieba tags as names that are everyday words (``zh_not_names.yaml``): never a PERSON."""
    raw = resources.files("services.ingestion.redaction").joinpath("zh_not_names.yaml").read_text(encoding="utf-8")
    return frozenset(str(word) for word in (yaml.safe_load(raw) or {}).get("words") or [])


def _plausible_name(core: str) -> bool:
    return 1 <= len(core) <= 4 and _is_surname_start(core) and core[-1] not in _NOT_NAME_END


def _common_word(name: str) -> bool:
    """An everyday word (谢谢, 黄金周), or one followed by a pronoun (谢谢您)."""
    return name in not_names() or (len(name) > 2 and name[:-1] in not_names())


def _split_inner_title(word: str) -> tuple[str, bool]:
    """``林总说`` → (``林``, True): jieba's HMM glues a title and the next word onto a surname."""
    for cut in (1, 2):
        rest = word[cut:]
        if len(word) > cut + 1 and any(rest.startswith(title) for title in TITLES):
            return word[:cut], True
    return word, False


def _is_surname_start(core: str) -> bool:
    return core[:2] in COMPOUND_SURNAMES or core[0] in SURNAMES


def _strip_title(word: str) -> tuple[str, bool]:
    for title in TITLES:
        if word.endswith(title) and len(word) > len(title):
            return word[: -len(title)], True
    return word, False


class ChinesePersonRecognizer(EntityRecognizer):
    """Chinese names from jieba segmentation: dictionary words tagged ``nr`` and new words found by jieba's
    HMM, starting with a known surname. Titles (先生/经理/总...) and cues (我是/我叫/联系人...) raise the
    score and also admit a bare surname before a title (王总, 李经理). Everyday words jieba's dictionary tags as
    names (谢谢, 黄金周: ``zh_not_names.yaml``) count only after a title or a naming cue (高峰经理, 联系人：高峰).

    jieba's HMM costs ~0.1 ms per unknown character, so only the first ``HMM_CHARS`` Han characters of a
    text use it; the rest is segmented by dictionary only (bounded time on pathological input).
    """

    ENTITY = "PERSON"
    CONTEXT = list(_CUES)
    NEW_WORD_SCORE = 0.5
    BASE_SCORE = 0.6
    CONTEXT_SCORE = 0.85
    HMM_CHARS = 4000

    def __init__(self, supported_language: str = "zh") -> None:
        self._tags: dict[str, str] = {}
        super().__init__(
            supported_entities=[self.ENTITY], name=type(self).__name__, supported_language=supported_language
        )

    def load(self) -> None:
        """Load jieba's dictionary now (about a second) instead of on the first message."""
        import jieba
        import jieba.posseg as pseg

        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()
        self._tags = pseg.dt.word_tag_tab
        jieba.lcut("王先生您好")  # loads the HMM tables
        not_names()

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        """Segment each run of Han characters with jieba and score name candidates."""
        import jieba

        results: list[RecognizerResult] = []
        budget = self.HMM_CHARS
        for run in _HAN_RUN.finditer(text):
            chunk = run.group()
            use_hmm = budget >= len(chunk)
            budget -= len(chunk)
            tokens: list[Token] = []
            pos = run.start()
            for word in jieba.cut(chunk, HMM=use_hmm):
                tokens.append((word, self._tags.get(word, "new" if len(word) > 1 else ""), pos))
                pos += len(word)
            results.extend(self._from_tokens(text, tokens))
        return EntityRecognizer.remove_duplicates(results)

    def _from_tokens(self, text: str, tokens: list[Token]) -> list[RecognizerResult]:
        found = []
        for i, (word, flag, start) in enumerate(tokens):
            following = tokens[i + 1] if i + 1 < len(tokens) else ("", "", 0)
            name, titled = self._candidate(word, flag, following)
            end = start + len(name)
            if not name or name[-1] in _PLACE_SUFFIXES or text[end : end + 1] in _PLACE_SUFFIXES:
                continue
            # an everyday word is a name only when a title or a naming cue says so (高峰经理, 联系人：高峰)
            named = titled or any(cue in text[max(0, start - 5) : start] for cue in _NAMING_CUES)
            if _common_word(name) and not named:
                continue
            found.append(self._result(text, start, end, titled, flag))
        return found

    @staticmethod
    def _candidate(word: str, flag: str, following: Token) -> tuple[str, bool]:
        next_word, next_flag, _ = following
        if flag.startswith("nr") or flag == "new":
            core, titled = _strip_title(word)
            if not titled and flag == "new":
                core, titled = _split_inner_title(word)
            titled = titled or next_word in _TITLE_SET
            if _plausible_name(core) and (len(core) > 1 or titled):
                return core, titled
            return "", False
        if word in COMPOUND_SURNAMES and (next_flag.startswith("nr") or next_flag == "new") and len(next_word) <= 2:
            return word + next_word, False
        if len(word) == 1 and word in SURNAMES and next_word in _TITLE_SET:
            return word, True
        return "", False

    def _result(self, text: str, start: int, end: int, titled: bool, flag: str) -> RecognizerResult:
        before = text[max(0, start - 5) : start]
        if titled or any(cue in before for cue in _CUES):
            score = self.CONTEXT_SCORE
        else:
            score = self.NEW_WORD_SCORE if flag == "new" else self.BASE_SCORE
        metadata = {
            RecognizerResult.RECOGNIZER_NAME_KEY: type(self).__name__,
            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
        }
        return RecognizerResult(self.ENTITY, start, end, score, recognition_metadata=metadata)


_ENGLISH_NAME = regex.compile(r"[A-Z][A-Za-z'\-]{1,30}(?: [A-Z][A-Za-z'\-]{1,30}){0,3}")


class SpacyPersonRecognizer(EntityRecognizer):
    """English names from the spaCy NER entities in the NLP artifacts (absent when spaCy did not run)."""

    ENTITY = "PERSON"
    SCORE = 0.85

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entities=[self.ENTITY], name=type(self).__name__, supported_language=supported_language
        )

    def load(self) -> None:  # noqa: D102
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        """Keep PERSON spans that look like capitalised Latin names."""
        spans = getattr(nlp_artifacts, "entities", None) or []
        metadata = {
            RecognizerResult.RECOGNIZER_NAME_KEY: type(self).__name__,
            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
        }
        results = []
        for span in spans:
            if span.label_ != "PERSON":
                continue
            value = span.text.removesuffix("'s")
            if _ENGLISH_NAME.fullmatch(value):
                start = span.start_char
                results.append(
                    RecognizerResult(
                        self.ENTITY, start, start + len(value), self.SCORE, recognition_metadata=dict(metadata)
                    )
                )
        return results


class EnglishTitledNameRecognizer(SalesPatternRecognizer):
    """``Mr./Ms./Mrs./Dr./Prof. Name`` and ``my name is Name``: the name after the cue (works without spaCy)."""

    ENTITY = "PERSON"
    _NAME = r"(?P<pii>[A-Z][a-z]{1,20}(?:[ \-][A-Z][a-z]{1,20}){0,2})(?![A-Za-z])"
    PATTERNS = [
        Pattern("en_title", r"(?<![A-Za-z])(?:Mr|Mrs|Ms|Miss|Dr|Prof)\.? ?" + _NAME, 0.8),
        Pattern("en_my_name", r"(?<![A-Za-z])(?:[Mm]y name is|I'm|I am) " + _NAME, 0.7),
    ]

    def quick_reject(self, text: str) -> bool:  # noqa: D102
        return any(cue in text for cue in ("Mr", "Ms", "Dr", "Miss", "Prof", "name is", "I'm", "I am"))
