"""moto_server with atomic requests (started by scripts/moto.sh).

Plain `moto_server` handles requests on many threads and its DynamoDB backend
checks a ConditionExpression and applies the write without a lock, so two
concurrent conditional writes can both succeed. Real DynamoDB never does
that, and our exactly-once design relies on it (and the conformance suite's
concurrent-increment case catches it: lost updates on plain moto_server).

This launcher runs the same moto application, but serialises every request
except SQS ones behind one lock, which makes each DynamoDB / S3 / Secrets
Manager call atomic as on AWS. SQS stays concurrent because ReceiveMessage
long-polls (waits) inside the request; SQS standard queues are at-least-once
on AWS too, so nothing relies on more.

Usage: python3 moto_atomic_server.py [-H HOST] [-p PORT]
"""

import argparse
import os
import signal
import sys
import threading

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app


class AtomicRequests:
    """WSGI middleware: one request at a time, SQS excepted."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    @staticmethod
    def concurrent(environ):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        auth = environ.get("HTTP_AUTHORIZATION", "")
        path = environ.get("PATH_INFO", "")
        return target.startswith("AmazonSQS") or "/sqs/aws4_request" in auth or path.startswith("/moto-api")

    def __call__(self, environ, start_response):
        if self.concurrent(environ):
            return self.app(environ, start_response)
        with self.lock:
            # Drain the response inside the lock: the write happens while it is produced.
            result = self.app(environ, start_response)
            try:
                body = list(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            return body


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=int(os.environ.get("MOTO_PORT", 5000)))
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True
    run_simple(args.host, args.port, AtomicRequests(app), threaded=True)


if __name__ == "__main__":
    main()
