"""Headless batch evaluation: any suite × seeds × one stack, over local worker processes or a
Ray cluster, resumable from its run folder, reported with confidence intervals."""

from cua.batch.report import BatchReport
from cua.batch.run import run_batch
from cua.batch.spec import StackSpec, classify_error

__all__ = ["BatchReport", "StackSpec", "classify_error", "run_batch"]
