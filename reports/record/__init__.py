"""The monitoring record of one patient: read once (selectors), printed as a PDF."""
