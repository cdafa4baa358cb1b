"""Headless batch evaluation: any suite × seeds × one stack, in this process, over local worker
processes or a Ray cluster, resumable from its run folder, reported with confidence intervals."""

from cua.batch.errors import classify_error
from cua.batch.report import BatchReport
from cua.batch.run import run_batch

__all__ = ["BatchReport", "classify_error", "run_batch"]
