"""The site's build machinery: run each page's code home as a notebook, cache the result.

Nothing a learner runs imports this package (the course's wheel leaves it out); the
MkDocs plugin ``mnist-course`` (``sitebuild/plugin/``) and the tests do. Three files,
each readable alone:

* ``homes``  the code homes (``lessons/*.py``, jupytext percent format): which page each
  belongs to, what it declares it uses, and the notebook it becomes;
* ``cache``  content-addressed entries (report, executed notebook, files), written
  atomically and verified against their digests when read;
* ``run``    executes a home's notebook in a fresh Jupyter kernel and stores the entry.

``python -m sitebuild --help`` lists, runs and inspects the homes from the shell.
"""
