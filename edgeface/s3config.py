"""S3 settings from the RHODS data-connection variables, and a boto3 client built from them.

The secret key is read by boto3 from the environment and never passes through our code's
strings, so no log line or error message of ours can contain it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from edgeface.errors import ConfigError

ENV_VARS = ("AWS_S3_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_S3_BUCKET", "AWS_DEFAULT_REGION")


@dataclass(frozen=True)
class S3Settings:
    endpoint: str | None
    bucket: str | None
    region: str | None

    @classmethod
    def from_env(cls, env=None) -> S3Settings:
        env = os.environ if env is None else env
        return cls(env.get("AWS_S3_ENDPOINT") or None, env.get("AWS_S3_BUCKET") or None,
                   env.get("AWS_DEFAULT_REGION") or None)

    def describe(self) -> str:
        """Safe to print: endpoint, bucket, region and whether credentials are present."""
        has_key = bool(os.environ.get("AWS_ACCESS_KEY_ID"))
        return (f"endpoint={self.endpoint or 'AWS default'} bucket={self.bucket} region={self.region} "
                f"credentials={'set' if has_key else 'missing'}")

    def client(self):
        import boto3
        from botocore.config import Config

        if self.endpoint and not self.endpoint.startswith(("http://", "https://")):
            raise ConfigError(f"AWS_S3_ENDPOINT={self.endpoint!r} is not a URL",
                              "set it to e.g. https://s3.example.com or http://127.0.0.1:9000")
        config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30,
                        s3={"addressing_style": "path"})  # path style: MinIO/ODF/moto endpoints need it
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=self.region or "us-east-1",
                            config=config)
