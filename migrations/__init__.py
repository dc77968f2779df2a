"""The alembic environment and revisions, installed as the package ``meike.migrations`` (pyproject's
package-dir), so an installed or frozen Meike finds them with importlib.resources."""
