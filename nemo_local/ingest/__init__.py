"""Bringing files into the server: content sniffing, URL safety, streaming multipart reception."""
