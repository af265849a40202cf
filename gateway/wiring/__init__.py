"""The wiring: the one place that builds the app-scoped object graph (build.py), chooses
the adapters, and imports the GraphQL schema (schema.py) and the simulators (sandbox.py).
Nothing is imported here, so importing one of its modules builds nothing else."""
