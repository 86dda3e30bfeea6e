"""DOCSTRING topic covariate_shift"""
