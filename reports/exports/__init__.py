"""Exports: CSV and XLSX written row by row, every cell neutralised against formulas, and
each export recorded in the audit trail."""
