# Django's en_GB, but on the 24-hour clock that British clinics and labs write.
TIME_FORMAT = "H:i"  # '14:30'
DATETIME_FORMAT = "j M Y, H:i"  # '21 Nov 2026, 14:30'
SHORT_DATETIME_FORMAT = "d/m/Y H:i"  # '21/11/2026 14:30'
# What a date typed into a plain Django date field (the admin's) may be: ISO only, so nobody
# has to guess whether 03/02/2024 is the day or the month. The staff forms' own date field
# (patients.form_fields.TypedDateField) also reads DD/MM/YYYY where it is unambiguous.
DATE_INPUT_FORMATS = ["%Y-%m-%d"]
DATETIME_INPUT_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
