"""edgeface: face recognition and video analytics at the edge.

The core package shared by every deployable: the training pipeline nodes, the web app, the
deployment tooling and the ``edgeface`` command line.
"""

__version__ = "0.1.0"
