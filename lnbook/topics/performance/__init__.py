"""DOCSTRING topic performance"""
