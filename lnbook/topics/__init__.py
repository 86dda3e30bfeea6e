"""The chapters' own code, one folder a topic, one topic a chapter.

Each topic holds up to four modules, always with the same jobs:

- ``experiments``: what the chapter computes and measures (arrays and dicts out, a
  ``seed=`` for everything random, no plotting);
- ``figures``: plotly figures of those results, the static face that works on the site;
- ``widgets``: the live face, ipywidgets controls that call the same compute and figure
  functions (on :mod:`lnbook.live`); absent where a chapter has none;
- ``checks``: the checkers of the chapter's exercises (on :mod:`lnbook.checking`).

A chapter imports its topic's modules (``from lnbook.topics.statistics import checks,
experiments, figures, widgets``). The topics, in the book's order:

=================== ======================================================
``statistics``      chapter 1, per-example statistics
``affine``          chapter 2, gamma and beta
``from_scratch``    chapter 3, layer norm from scratch, forward and backward
``batch_norm``      chapter 4, layer norm against batch norm
``transformers``    chapter 5, layer norm in transformers
``covariate_shift`` chapter 6, covariate shift and smoothness
``variants``        chapter 7, RMSNorm and beyond
``performance``     chapter 8, speed and accuracy
=================== ======================================================

Code that more than one topic needs lives below the topics (``lnbook.training``,
``lnbook.plotting``, ``lnbook.live``, ``lnbook.checking``). A topic may import from an
earlier one (chapter 7 reuses chapter 5's transformer runs), never from a later one, so
that each chapter can be read, and its code understood, in the book's order.
"""
