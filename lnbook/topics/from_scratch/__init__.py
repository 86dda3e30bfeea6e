"""DOCSTRING topic from_scratch"""
