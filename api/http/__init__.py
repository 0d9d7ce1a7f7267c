"""The HTTP API: FastAPI app, auth, schemas, routes and the in-memory read model."""
