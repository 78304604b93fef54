"""Repositories: one per concept, each working inside the `AsyncSession` it is given.

They flush but never commit; the transaction belongs to `Database.transaction`.
"""
