"""Labelled ADF-STEM simulation in the incoherent linear imaging approximation (as Incostem)."""
