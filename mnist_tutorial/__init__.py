"""mnist_tutorial: the library of the course "Neural networks, from linear models to MNIST".

What several lessons share, one file per idea, each readable alone:

* ``data``      MNIST: find, verify, decode once, batch (lesson DataLoader or fast tensors)
* ``models``    the lesson MLP (returns logits)
* ``training``  train / evaluate loops, recipes, devices, checkpoints, TensorBoard logging
* ``config``    frozen run configs and profiles (full, smoke)
* ``toy``       two moons and tiny classifiers for the theory lessons
* ``plots``     deterministic SVG figures
* ``report``    what a lesson's run reports: numbers, tables, figures, checked claims

Each lesson's own code, run and claims live in its notebook (``lessons/<page>.py`` in a
copy of the course). Command line: ``python -m mnist_tutorial --help``.
"""

__version__ = "0.2.0"
