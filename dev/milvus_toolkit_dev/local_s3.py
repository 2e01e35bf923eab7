"""A local S3-compatible server for development and the test session: moto's standalone server
(``moto[server]``), bound to 127.0.0.1, with authentication ON. Never used by workers.

moto accepts any key pair by default. This module starts it, creates one IAM user with a
generated key pair and a policy allowing S3, then switches moto's request authentication on
(``/moto-api/reset-auth``): from then on only that key pair is accepted, so a wrong key pair is
refused the way AWS refuses it (403 ``InvalidAccessKeyId``), and per-object denials can be
set with ``deny_reads`` (403 ``AccessDenied`` on ``GetObject``).

Usage::

    python -m milvus_toolkit_dev.local_s3   # runs in the foreground; prints the Airflow connection

    with LocalS3() as s3:                    # in Python (the test session does this once)
        s3.client().create_bucket(Bucket="docs")
        os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = s3.connection_json()
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REGION = "us-east-1"
USER = "milvus-toolkit-dev"  # the key pair the connections carry: S3 only
ADMIN = "milvus-toolkit-dev-admin"  # kept by this object: changes the user's policy (deny_reads)
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
ALLOW_S3 = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalS3:
    """moto's server in a child process on 127.0.0.1:``port`` (a free port by default)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or _free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.access_key = ""
        self.secret_key = ""
        self._admin = ("", "")

    # ---- lifecycle ----------------------------------------------------------------------

    def start(self, timeout: float = 30) -> LocalS3:
        executable = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or "moto_server"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.process = subprocess.Popen(
            [executable, "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"moto_server did not answer on {self.endpoint_url} within {timeout} s")
            time.sleep(0.1)
        try:
            self._create_credentials()
        except BaseException:
            self.stop()  # never an unauthenticated server left behind
            raise
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None

    def __enter__(self) -> LocalS3:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/", timeout=1):
                return True
        except OSError:
            return False

    def _create_credentials(self) -> None:
        """An IAM user allowed S3 and an admin, their key pairs, then authentication on for every
        request."""
        iam = self._client("iam", "bootstrap", "bootstrap")  # accepted: authentication is still off
        keys = {}
        for user, policy in ((USER, ALLOW_S3), (ADMIN, ALLOW_ALL)):
            iam.create_user(UserName=user)
            iam.put_user_policy(UserName=user, PolicyName="policy", PolicyDocument=json.dumps(policy))
            key = iam.create_access_key(UserName=user)["AccessKey"]
            keys[user] = (key["AccessKeyId"], key["SecretAccessKey"])
        (self.access_key, self.secret_key), self._admin = keys[USER], keys[ADMIN]
        request = urllib.request.Request(
            f"{self.endpoint_url}/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()

    # ---- clients and connections ---------------------------------------------------------

    def _client(self, service: str, key: str, secret: str):
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            region_name=REGION,
        )

    def client(self, service: str = "s3"):
        """A boto3 client with the server's key pair."""
        return self._client(service, self.access_key, self.secret_key)

    def connection(self, *, access_key: str | None = None, secret_key: str | None = None) -> dict:
        """An Airflow ``aws`` connection to this server (``AIRFLOW_CONN_<ID>`` JSON form)."""
        return {
            "conn_type": "aws",
            "login": access_key or self.access_key,
            "password": secret_key or self.secret_key,
            "extra": {"endpoint_url": self.endpoint_url, "region_name": REGION},
        }

    def connection_json(self, **kwargs) -> str:
        return json.dumps(self.connection(**kwargs))

    def deny_reads(self, bucket: str, key: str) -> None:
        """From now on, reading ``key`` (GetObject) is refused with AccessDenied; listing is not."""
        deny = {"Effect": "Deny", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/{key}"}
        policy = {**ALLOW_S3, "Statement": [*ALLOW_S3["Statement"], deny]}
        self._set_policy(policy)

    def allow_reads(self) -> None:
        self._set_policy(ALLOW_S3)

    def _set_policy(self, policy: dict) -> None:
        iam = self._client("iam", *self._admin)
        iam.put_user_policy(UserName=USER, PolicyName="policy", PolicyDocument=json.dumps(policy))


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # a plain kill stops the server too
    with LocalS3(int(os.environ.get("LOCAL_S3_PORT", "0")) or None) as s3:
        print(f"local S3 (moto) on {s3.endpoint_url}, authentication on. Airflow connection:")
        print(f"export AIRFLOW_CONN_AWS_DEFAULT='{s3.connection_json()}'")
        print("Ctrl-C stops it (its data lives in memory only).")
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
