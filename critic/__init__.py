"""Critics: review a proposed action before it runs."""
