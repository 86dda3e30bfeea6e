"""DOCSTRING topic statistics"""
