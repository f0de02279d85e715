"""Onboarding patients already in follow-up from a spreadsheet (README, *Onboarding*).

reading.py reads the file (pure), services.py checks it against the clinic's records and
records it, views.py and forms.py are the staff screen, and the command is
`manage.py onboard_patients`. Kept empty here, so that importing the pure reader loads no
Django."""
