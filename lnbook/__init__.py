"""lnbook: the helper package of the layer normalization book.

Modules, one job each:

- ``numpy_ln``: layer norm, RMSNorm and batch norm from scratch in NumPy
- ``torch_ln``: the same in PyTorch, with hand-written backward passes and drop-in modules
- ``data``: seeded inputs and the handwritten digits that ship with scikit-learn
- ``models``: tiny models with the normalization as a parameter
- ``experiments``: the experiments the chapters run (plain results, no plotting)
- ``viz``: figure builders (results in, plotly figures out), the static face
- ``widgets``: ipywidgets wired to the same functions, the live face
- ``checks``: exercise checkers that diagnose a learner's mistake
- ``bench``: benchmarks, run with ``make bench``
- ``sphinxext``: build glue for the static site

Submodules are imported on demand, so ``import lnbook`` stays cheap.
"""

__version__ = "0.1.0"
