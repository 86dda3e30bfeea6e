"""Build glue: everything that turns the chapters into a website, notebooks and a PDF.

It knows nothing of layer norm: it reads ``book/``, executes chapters and hands them out.

- ``execution``: the execution cache that the strict build, the tests and the editions share
- ``myst``: the chapters in order, their labels and exercise numbers, MyST made plain Markdown
- ``editions``: the reader, student and nbgrader notebooks (``python -m lnbook.book.editions``)
- ``sphinxext``: the Sphinx extension (plotly on static pages, local assets, the launch panel)
- ``launch``: the "Run this chapter" links (Binder, Colab, JupyterHub, the browser edition)
- ``lite``: the in-browser (JupyterLite) edition; ``pdf``: the book as one PDF
- ``bibstyle``, ``icons``, ``stylesheets``: the bibliography style, slimmer icon fonts and CSS
- ``static/``, ``templates/``: the site's own scripts and styles, and the theme templates
  lnbook overrides
"""
