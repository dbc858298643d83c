"""Pipeline node 2/3: measure artifacts/model.data; write evaluation.json and distances.png.

Fails (and so stops the pipeline before upload) when leave-one-out accuracy is below
EDGEFACE_MIN_ACCURACY (default 0.9). EDGEFACE_TOLERANCE sets the match distance (default 0.6).
"""

from workflow import evaluate_step, run_node

run_node(evaluate_step)
