"""edgeface: face recognition and video analytics at the edge.

The core package shared by every deployable: the training pipeline nodes, the web app, the
deployment tooling and the ``edgeface`` command line.
"""

import os

__version__ = "0.1.0"

# OpenBLAS (dlib's source build, numpy, OpenCV) would start a thread per core in every process;
# on a small edge box those threads fight the per-camera and engine workers for the same cores
# and make each face encoding up to 3x slower (docs/dlib-build.md). Must be set before they load.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
