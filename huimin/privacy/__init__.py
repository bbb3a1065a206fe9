"""huimin.privacy."""
