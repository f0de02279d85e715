# Language code "en-iso" (locale en_Iso): English words, ISO 8601 dates and a 24-hour clock.
DATE_FORMAT = "Y-m-d"  # '2026-11-21'
TIME_FORMAT = "H:i"  # '14:30'
DATETIME_FORMAT = "Y-m-d H:i"  # '2026-11-21 14:30'
YEAR_MONTH_FORMAT = "F Y"  # 'November 2026'
MONTH_DAY_FORMAT = "j F"  # '21 November'
SHORT_DATE_FORMAT = "Y-m-d"  # '2026-11-21'
SHORT_DATETIME_FORMAT = "Y-m-d H:i"  # '2026-11-21 14:30'
FIRST_DAY_OF_WEEK = 1  # Monday
DATE_INPUT_FORMATS = ["%Y-%m-%d"]
DATETIME_INPUT_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
