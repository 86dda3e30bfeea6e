"""DOCSTRING topic transformers"""
