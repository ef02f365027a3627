"""Python code generated from the .proto contracts beside it (``make setup`` runs proto/generate.py).

Everything below this folder except the .proto files is generated: never edit it, never commit it.
"""
