"""A boto3 client built from the ``s3`` section of the settings (the RHODS data-connection variables).

The keys stay ``SecretStr`` until the moment they are handed to boto3, so no log line or error
message of ours can contain them.
"""

from __future__ import annotations

from edgeface.settings import S3Settings

#: The data-connection variables, in the order a RHODS data connection lists them.
ENV_VARS = tuple(str(f.json_schema_extra["env"]) for name, f in S3Settings.model_fields.items()  # type: ignore[index]
                 if name != "prefix")

__all__ = ["ENV_VARS", "S3Settings", "s3_client"]


def s3_client(s3: S3Settings):
    import boto3
    from botocore.config import Config

    config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30,
                    s3={"addressing_style": "path"})  # path style: MinIO/ODF/moto endpoints need it
    key_id = secret = None   # None: boto3's own chain (instance role, ~/.aws)
    if s3.access_key_id and s3.secret_access_key:
        key_id, secret = s3.access_key_id.get_secret_value(), s3.secret_access_key.get_secret_value()
    return boto3.client("s3", endpoint_url=s3.endpoint, region_name=s3.region or "us-east-1", config=config,
                        aws_access_key_id=key_id, aws_secret_access_key=secret)
