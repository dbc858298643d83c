"""Pipeline node 3/3: publish the evaluated model as a new version and point `latest` at it.

Store: EDGEFACE_STORE (s3://BUCKET/PREFIX or a directory), else s3://$AWS_S3_BUCKET/models from
the RHODS data connection (AWS_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_S3_BUCKET, AWS_DEFAULT_REGION). Writes artifacts/published.json.
"""

from workflow import run_node, upload_step

run_node(upload_step)
