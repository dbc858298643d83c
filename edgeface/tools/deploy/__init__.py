"""Deployment path: a model version in S3 -> the model image -> the edge Deployment.

- :mod:`edgeface.tools.deploy.tekton` reads the Pipeline and Tasks in ``init-container/tekton`` and
  resolves Tekton's ``$(...)`` variables;
- :mod:`edgeface.tools.deploy.local_runner` runs those Tasks' own step scripts on this machine;
- :mod:`edgeface.tools.deploy.local_env` gives them what a Tekton pod would (buildah storage, a base image);
- :mod:`edgeface.tools.deploy.local_pipeline` puts these together for ``edgeface pipeline run --local``;
- :mod:`edgeface.tools.deploy.pipelinerun` builds the PipelineRun that starts the pipeline in a cluster;
- :mod:`edgeface.tools.deploy.trigger` creates it with the kubernetes client and follows it.
"""

PIPELINE_NAME = "edgeface-model-image"
RECIPE_CONFIGMAP = "edgeface-model-image-recipe"
DEFAULT_DATA_CONNECTION = "aws-connection-edgeface-models"
RESULT_NAMES = ("MODEL_VERSION", "MODEL_SHA256", "IMAGE_URL", "IMAGE_DIGEST")
