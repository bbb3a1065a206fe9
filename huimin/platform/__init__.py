"""huimin.platform."""
