"""huimin.assistant.client."""
