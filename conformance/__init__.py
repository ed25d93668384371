"""Conformance: checkers that judge traces against the rules of the reference (issue 5)."""
