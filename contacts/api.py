"""REST API for contacts, lists, custom fields and tags."""


def register(router):
    """Add this app's viewsets to the project router."""
