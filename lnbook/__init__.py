"""lnbook: the helper package of the layer normalization book.

Modules (each with one job, importing only the ones below it):

- ``numpy_ln``: layer norm, RMSNorm and batch norm from scratch in NumPy
- ``torch_ln``: the same in PyTorch, with hand-written backward passes and drop-in modules
- ``experiments``: the small experiments the chapters run (plain results, no plotting)
- ``viz``: figure builders (results in, plotly figures out)
- ``sphinxext``: build glue for the static site

Submodules are imported on demand, so ``import lnbook`` stays cheap.
"""

__version__ = "0.1.0"
