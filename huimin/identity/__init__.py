"""huimin.identity."""
