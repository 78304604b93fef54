"""The number formats of the product's spreadsheet cells (Excel's format codes), apart from
`bot.reports.spreadsheet` so that code choosing a column's format does not load openpyxl: the
long-running processes import the report modules, and write a workbook only when one is asked
for."""

from __future__ import annotations

from typing import Final

MONEY: Final = "#,##0.00"
PERCENT: Final = "0.0%"
DATE: Final = "yyyy-mm-dd"
DATE_TIME: Final = "yyyy-mm-dd hh:mm"
