"""Tools for developers and data scientists, not for the edge: benchmarks, the local demo, the
camera simulator and the test stream servers, the Tekton trigger and local runner, and
``edgeface review``. The app image leaves this package out (``.containerignore``)."""
