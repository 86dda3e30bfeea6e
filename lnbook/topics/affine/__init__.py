"""DOCSTRING topic affine"""
