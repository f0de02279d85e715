"""The benchmarks: `manage.py bench` (the figures of docs/scaling.md) and `manage.py
bench_results` (the lab-results work), both on a scratch PostgreSQL database and both on the
data set of `dataset`. Installed only by the local and test settings. One module per concern:

- dataset: patients at every stage, their courses, schedules and five years of results;
- lab_export: a lab's CSV export of results, for the import benchmark;
- timing: medians and query counts;
- schedules: storing schedules through the app against PostgreSQL's own COPY;
- scans: the alert scans and the sweep against a bare SQL count;
- pages: server time and queries of the busiest pages, in process;
- load: the same pages over HTTP, gunicorn under wrk;
- delivery: the outbox drained by two Celery workers into a loopback SMTP server;
- report: the table.
"""
