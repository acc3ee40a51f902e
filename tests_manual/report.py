"""What a check prints: its evidence as it goes, then one verdict line.

    PASS T013: <summary>    every expectation held
    FAIL T013: <summary>    at least one did not (each one is listed above the verdict)
    SKIP T018: <why>        nothing could run here (a real server cannot be restarted by us)

The verdict line is the contract with ``test_manual_checks.py`` and with anyone reading a log.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"


@dataclass
class Report:
    check_id: str
    title: str
    failures: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    expectations: int = 0

    def start(self, where: str) -> None:
        print(f"\n=== {self.check_id}: {self.title}", flush=True)
        print(f"    against: {where}", flush=True)

    def note(self, text: str = "") -> None:
        for line in str(text).splitlines() or [""]:
            print(f"    {line}", flush=True)

    def expect(self, condition: bool, what: str) -> bool:
        """Record one expectation; print it with its outcome."""
        self.expectations += 1
        print(f"    [{'ok' if condition else 'FAILED'}] {what}", flush=True)
        if not condition:
            self.failures.append(what)
        return condition

    def skip(self, why: str) -> None:
        print(f"    [skipped] {why}", flush=True)
        self.skipped.append(why)

    def verdict(self, summary: str) -> str:
        if self.failures:
            status = FAIL
            summary = f"{len(self.failures)} of {self.expectations} expectation(s) failed: " + "; ".join(
                self.failures
            )
        elif self.expectations == 0:
            status = SKIP
            summary = "; ".join(self.skipped) or summary
        else:
            status = PASS
            if self.skipped:
                summary += f" (skipped here: {'; '.join(self.skipped)})"
        print(f"{status} {self.check_id}: {summary}", flush=True)
        return status


def checksum_text(checksum: tuple[int, str]) -> str:
    rows, digest = checksum
    return f"{rows} rows, md5 {digest or '-'}"


def exit_code(statuses: list[str]) -> int:
    return 1 if FAIL in statuses else 0
