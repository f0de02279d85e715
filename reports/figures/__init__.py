"""The clinic's figures: what counts as on time, late, missed or waived (definitions, pure),
the table the scan keeps of them (refresh), and their reads (selectors)."""
