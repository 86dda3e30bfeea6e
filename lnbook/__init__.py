"""lnbook: the helper package of the layer normalization book.

One home per topic, shared scaffolding once, imports flowing one way (bottom to top):

- ``data``: seeded inputs and the handwritten digits that ship with scikit-learn
- ``numpy_ln``, ``torch_ln``: layer norm, RMSNorm and batch norm from scratch (NumPy, and
  PyTorch with hand-written backward passes and drop-in modules)
- ``models``: tiny models with the normalization as a parameter; ``training``: the one
  training loop of each kind of model
- ``fusion`` (the residual add fused with layer norm), ``folding`` (norms folded into
  neighbouring layers for inference; what autograd keeps for the backward pass)
- ``plotting`` (the figures' look and controls), ``live`` (the widgets' scaffolding),
  ``checking`` (the exercise checkers' harness)
- ``topics.<topic>``: each chapter's topic, in four modules: ``experiments`` (plain results),
  ``figures`` (results in, plotly figures out: the static face), ``widgets`` (controls wired
  to both: the live face) and ``checks`` (the exercise checkers)
- ``triton_ln``: layer norm as Triton kernels for a GPU (it imports triton only when a
  kernel is launched)
- ``bench``, ``latency``: benchmarks, run with ``make bench`` (``bench_devices``: the device
  they run on)
- ``book``: build glue for the site, the editions, the browser edition and the PDF

Submodules are imported on demand, so ``import lnbook`` stays cheap. CONTRIBUTING.md has
the tree and says where a new chapter's code goes.
"""

__version__ = "0.1.0"
