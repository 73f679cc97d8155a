"""Reporting periods of the demo, all derived from the as-of date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

__all__ = ["Periods"]


@dataclass(frozen=True)
class Periods:
    """Months, quarters, school term and rule windows relative to `as_of`.

    The as-of month counts as delivered (the demo is a month-end snapshot). Quarterly
    sources deliver the latest quarter that has ended on or before `as_of`.
    """

    as_of: date

    @property
    def day(self) -> np.datetime64:
        return np.datetime64(self.as_of, "D")

    @property
    def year(self) -> int:
        return self.as_of.year

    @property
    def prev_year(self) -> int:
        return self.as_of.year - 1

    @property
    def months(self) -> list[tuple[int, int]]:
        """The 12 months ending with the as-of month, oldest first."""
        y, m = self.as_of.year, self.as_of.month
        out = []
        for k in range(11, -1, -1):
            mm = m - k
            yy = y + (mm - 1) // 12
            out.append((yy, (mm - 1) % 12 + 1))
        return out

    def month_start(self, i: int) -> np.datetime64:
        y, m = self.months[i]
        return np.datetime64(f"{y:04d}-{m:02d}-01", "D")

    def month_end(self, i: int) -> np.datetime64:
        """Last day of month i, but never after as_of."""
        y, m = self.months[i]
        nxt = np.datetime64(f"{y:04d}-{m:02d}", "M") + 1
        return min(nxt.astype("datetime64[D]") - 1, self.day)

    @property
    def quarter(self) -> tuple[int, int]:
        """Latest quarter ended on or before as_of, as (year, quarter)."""
        y, q = self.as_of.year, (self.as_of.month - 1) // 3 + 1
        end_month = q * 3
        end = np.datetime64(f"{y:04d}-{end_month:02d}", "M") + 1
        if end.astype("datetime64[D]") - 1 > self.day:  # current quarter not over yet
            q -= 1
            if q == 0:
                y, q = y - 1, 4
        return y, q

    @property
    def prev_quarter(self) -> tuple[int, int]:
        y, q = self.quarter
        return (y, q - 1) if q > 1 else (y - 1, 4)

    @staticmethod
    def quarter_bounds(yq: tuple[int, int]) -> tuple[np.datetime64, np.datetime64]:
        y, q = yq
        start = np.datetime64(f"{y:04d}-{(q - 1) * 3 + 1:02d}-01", "D")
        end = (np.datetime64(f"{y:04d}-{q * 3:02d}", "M") + 1).astype("datetime64[D]") - 1
        return start, end

    @property
    def term(self) -> tuple[str, str]:
        """(学年, 学期) of the term running on as_of: autumn term from September."""
        y, m = self.as_of.year, self.as_of.month
        if m >= 9:
            return f"{y}-{y + 1}", "第一学期"
        if m <= 1:
            return f"{y - 1}-{y}", "第一学期"
        return f"{y - 1}-{y}", "第二学期"
