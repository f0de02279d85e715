"""The demo clinic a newcomer signs in to (`manage.py demo_data`, `manage.py demo_code`).

Installed only by the local and test settings: nothing in the product imports it, so a
production deployment carries no demo accounts, passwords or code printer."""
