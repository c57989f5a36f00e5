"""Contact imports and exports: streaming readers (CSV, XLSX, vCard), column mapping, the pipeline.

Readers turn a file into rows; `mapping` turns a row into contact values; `pipeline`
validates, dedupes and upserts in batches. `services` is what the admin, the API, the
command line and the Celery tasks call.
"""
