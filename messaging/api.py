"""REST API for this app: serializers and viewsets; register(router) adds the routes."""


def register(router):
    """Add this app's viewsets to the project router."""
