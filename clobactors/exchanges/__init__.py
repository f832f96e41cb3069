"""Exchange dialects: one sans-IO folder per exchange, each with the same module names.

Nothing here imports trio or httpx: a dialect turns bytes into typed wire structs (and back) and signs
requests with a timestamp passed in. The registry of ``DIALECT`` objects will live here once dialects exist.
"""
