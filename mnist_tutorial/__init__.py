"""mnist_tutorial: the code of the course "Neural networks, from linear models to MNIST".

One file per idea, each readable alone:

* ``data``      MNIST: find, verify, decode once, batch (lesson DataLoader or fast tensors)
* ``models``    the lesson MLP (returns logits)
* ``training``  train / evaluate loops, recipes, TensorBoard logging
* ``config``    frozen run configs and profiles (torch-free)
* ``registry``  named experiments and their content-addressed cache (torch-free)
* ``plots``     deterministic SVG figures
* ``experiments/``  the experiments of each lesson

Command line: ``python -m mnist_tutorial --help``.
"""

__version__ = "0.1.0"
