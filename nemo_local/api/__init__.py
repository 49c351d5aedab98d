"""The HTTP face of nemo_local: one router per resource of the contract."""
