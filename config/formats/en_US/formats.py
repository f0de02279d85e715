# Django's en_US, except for what a date typed into a form may be: ISO only here, so a plain
# Django date field (the admin's) never reads 03/02/2024 as 2 March. The staff forms' own date
# field (patients.form_fields.TypedDateField) also reads MM/DD/YYYY where it is unambiguous.
DATE_INPUT_FORMATS = ["%Y-%m-%d"]
DATETIME_INPUT_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
