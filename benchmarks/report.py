"""The figures as one Markdown table, ready for docs/scaling.md."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Report:
    header: list[str] = field(default_factory=list)
    rows: list[tuple[str, str, str]] = field(default_factory=list)

    def note(self, line: str) -> None:
        self.header.append(line)

    def add(self, what: str, figure: str, target: str = "") -> None:
        self.rows.append((what, figure, target))

    def render(self) -> str:
        lines = [*self.header, "", "| what | figure | target |", "|---|---|---|"]
        lines += [f"| {what} | {figure} | {target} |" for what, figure, target in self.rows]
        return "\n".join(lines)


def verdict(ok: bool, target: str) -> str:
    return f"{target}: {'met' if ok else 'NOT met'}"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 0.1 else f"{seconds * 1000:.0f} ms"
