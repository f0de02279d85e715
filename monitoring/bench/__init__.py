"""`manage.py bench`: a realistic programme-sized data set on PostgreSQL and the figures of
docs/scaling.md, each the median of several runs. One small module per concern:

- dataset: patients at every stage, their courses, schedules and five years of results;
- timing: medians and query counts;
- schedules: storing schedules through the app against PostgreSQL's own COPY;
- scans: the alert scans and the sweep against a bare SQL count;
- pages: server time and queries of the busiest pages, in process;
- load: the same pages over HTTP, gunicorn under wrk;
- delivery: the outbox drained by two Celery workers into a loopback SMTP server;
- report: the table.
"""
