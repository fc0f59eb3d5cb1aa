"""Per-event cost of decoding clean and hostile messages (issue 24, item 4).

`python -m load_tests.slow_path [repeats]` decodes 500-event messages of generated events
with `courierwatch.contract.decode_events` and prints microseconds per event (CPU time of
this process, best of `repeats`) for:

- clean: every event within the contract (the fast path);
- null field: one event of the message carries an explicit `"complaint_id":null`
  (valid);
- unknown field: one event carries an extra `"note"` field (valid, screened, dropped);
- rejected (schema): one event has a wrong type (`"city":331000`);
- rejected (pii): one event carries a phone number in its site id;
- the benchmark's hostile mix: 10 % of messages with a null field, 1 % with a rejected
  event.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

import msgspec

from courierwatch.contract import decode_events
from load_tests.generator import GeneratorConfig, generate_batches

NOW = datetime(2026, 12, 31, tzinfo=UTC)
_split = msgspec.json.Decoder(list[msgspec.Raw])


def _messages(n: int) -> list[list[bytes]]:
    out = []
    for m in generate_batches(GeneratorConfig(count=500 * n, seed=11), 500):
        out.append([bytes(r) for r in _split.decode(m)])
    return out[:n]


def _with_one(events: list[bytes], change: Callable[[bytes], bytes]) -> bytes:
    mid = len(events) // 2
    return b"[" + b",".join(events[:mid] + [change(events[mid])] + events[mid + 1:]) + b"]"


VARIANTS: dict[str, Callable[[bytes], bytes]] = {
    "null field": lambda e: e[:-1] + b',"complaint_id":null}',
    "unknown field": lambda e: e[:-1] + b',"note":"re-scanned"}',
    "rejected (schema)": lambda e: e.replace(b'"schema":"scan.v1"', b'"schema":"scan.v0"', 1),
    "rejected (pii)": lambda e: e.replace(b'"event_id":"', b'"event_id":"13812345678-', 1),
}


def per_event_us(messages: list[bytes], repeats: int) -> float:
    events = sum(len(decode_events(m, NOW).events) + len(decode_events(m, NOW).rejections)
                 for m in messages)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        for m in messages:
            decode_events(m, NOW)
        best = min(best, time.process_time() - t0)
    return best / events * 1e6


def main(repeats: int = 5) -> None:
    raw = _messages(40)
    clean = [b"[" + b",".join(m) + b"]" for m in raw]
    print(f"{'message':<22} us/event (CPU, best of {repeats})")
    print(f"{'clean':<22} {per_event_us(clean, repeats):6.2f}")
    for name, change in VARIANTS.items():
        print(f"{name:<22} {per_event_us([_with_one(m, change) for m in raw], repeats):6.2f}")
    many = raw * 5
    mix = [_with_one(m, VARIANTS["null field"]) if i % 10 == 0 else
           _with_one(m, VARIANTS["rejected (schema)"]) if i % 100 == 1 else
           b"[" + b",".join(m) + b"]" for i, m in enumerate(many)]
    print(f"{'clean (x5)':<22} {per_event_us(clean * 5, repeats):6.2f}")
    print(f"{'hostile mix (10%/1%)':<22} {per_event_us(mix, repeats):6.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
