"""The API's routers, one module per topic; :func:`monitor.api.app.create_app` mounts them."""
