"""DOCSTRING topic batch_norm"""
