"""Warehouse: SQLAlchemy 2 models, bulk loaders, dimensions, rules and marts."""
