"""RQ jobs: thin edges that call the domain package. Every job is idempotent."""
