#!/usr/bin/python3
"""Checks that each host:port answers grpc.health.v1.Health/Check with an
empty request (service "") with HealthCheckResponse{status: SERVING}, which
serializes as 08 01. Exits 1 naming the first that does not.

Run: /usr/bin/python3 tests/slurm/grpc_health.py HOST:PORT...
"""
import sys

import grpc

for address in sys.argv[1:]:
    with grpc.insecure_channel(address) as channel:
        reply = channel.unary_unary('/grpc.health.v1.Health/Check')(b'', timeout=10)
        if reply != b'\x08\x01':
            sys.exit(f'{address}: health reply {reply!r}, want SERVING')
        print(f'{address}: SERVING')
