"""DOCSTRING topic variants"""
