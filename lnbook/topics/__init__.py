"""DOCSTRING topics"""
