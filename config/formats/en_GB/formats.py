# Django's en_GB, but on the 24-hour clock that British clinics and labs write.
TIME_FORMAT = "H:i"  # '14:30'
DATETIME_FORMAT = "j M Y, H:i"  # '21 Nov 2026, 14:30'
SHORT_DATETIME_FORMAT = "d/m/Y H:i"  # '21/11/2026 14:30'
