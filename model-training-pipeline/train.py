"""Pipeline node 1/3: enrol the face images into artifacts/model.data (+ model.report.json).

Settings: EDGEFACE_IMAGES (default face-images), EDGEFACE_ARTIFACTS (default artifacts).
"""

from workflow import run_node, train_step

run_node(train_step)
