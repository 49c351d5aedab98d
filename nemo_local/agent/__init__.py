"""The agent behind /run_sse: understands a message, edits the draft, and speaks ADK-shaped events."""
