"""Date formats for the languages in settings.LANGUAGES, read before Django's own
(settings.FORMAT_MODULE_PATH). A setting not given here comes from Django's module for the
language, then from its "en" module."""
