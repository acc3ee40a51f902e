"""The sync status page: data reading (``status_data``), chart, HTML and the FastAPI app."""
