"""The course's experiments, one module per lesson (see ``mnist_tutorial.registry``).

Modules here must not import torch at import time: the site build imports them all
to compute cache keys. Import the heavy modules inside the experiment functions.
"""
