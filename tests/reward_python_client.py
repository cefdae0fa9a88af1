#!/usr/bin/python3
"""Drives a running r1-reward server as an outside user would.

The client is built only from proto/reward.proto (and the records.proto it
imports): protoc writes the Python messages, Debian's grpc_python_plugin the
stub. Nothing of r1's C++ is used. Also checks the two standard services every
r1 server carries: grpc.health.v1 health checking and server reflection, whose
tiny messages are encoded by hand here and decoded by
tests/golden/protobuf_wire.py (their .proto files are not shipped
with Debian's python3-grpcio).

Run: /usr/bin/python3 tests/reward_python_client.py --r1_reward build/bin/r1-reward --source_root .
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden"))
from protobuf_wire import fields  # noqa: E402  (hand decoder, shared with the golden scripts)

ARGS = None


def generate_stubs(source_root, out_dir):
    protos = ["proto/records.proto", "proto/reward.proto"]
    subprocess.run(["protoc", f"--proto_path={source_root}", f"--python_out={out_dir}"] + protos, check=True)
    subprocess.run(["protoc", f"--proto_path={source_root}", f"--grpc_python_out={out_dir}",
                    "--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin", "proto/reward.proto"],
                   check=True)
    # protoc writes packages as folders; make them importable.
    open(os.path.join(out_dir, "proto", "__init__.py"), "a").close()
    sys.path.insert(0, out_dir)


class RewardServiceFromPython(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import grpc
        cls.grpc = grpc
        cls.tmp = tempfile.TemporaryDirectory()
        generate_stubs(ARGS.source_root, cls.tmp.name)
        from proto import reward_pb2, reward_pb2_grpc  # noqa: generated above
        cls.pb, cls.pb_grpc = reward_pb2, reward_pb2_grpc
        config = os.path.join(cls.tmp.name, "run.textproto")
        with open(config, "w") as f:
            f.write('reward { rules { rule: "math" weight: 1 } rules { rule: "countdown" weight: 1 } '
                    'rules { rule: "format" weight: 0.2 } }\n')
        port_file = os.path.join(cls.tmp.name, "port")
        cls.server = subprocess.Popen([ARGS.r1_reward, "serve", config, "--port_file", port_file],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(500):
            if os.path.exists(port_file) or cls.server.poll() is not None:
                break
            time.sleep(0.02)
        if not os.path.exists(port_file):
            raise RuntimeError("server did not start: " + cls.server.stderr.read().decode())
        with open(port_file) as f:
            cls.address = f"127.0.0.1:{int(f.read())}"
        cls.channel = grpc.insecure_channel(cls.address)
        grpc.channel_ready_future(cls.channel).result(timeout=20)
        cls.stub = reward_pb2_grpc.RewardServiceStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.server.terminate()
        cls.server.wait(timeout=20)
        cls.tmp.cleanup()

    def test_score_batch(self):
        pb = self.pb
        request = pb.ScoreRequest(items=[
            pb.ScoreItem(id="a", task="math", completion="<think>half</think><answer>0.5</answer>",
                         reference="\\frac{1}{2}"),
            pb.ScoreItem(id="b", task="math", completion="<think>?</think><answer>0.6</answer>",
                         reference="\\frac{1}{2}"),
            pb.ScoreItem(id="c", task="countdown", completion="<think>t</think><answer>(6 - 2) * 5</answer>",
                         reference="20", numbers=[2, 5, 6]),
            pb.ScoreItem(id="d", task="", completion="x"),
        ])
        response = self.stub.Score(request, timeout=30)
        self.assertEqual([r.id for r in response.results], ["a", "b", "c", "d"])
        a, b, c, d = response.results
        self.assertTrue(a.correct)
        self.assertAlmostEqual(a.total, 1.2)
        self.assertEqual({r.rule: r.reason for r in a.rules}, {"math": "equal", "format": "well_formed"})
        self.assertFalse(b.correct)
        self.assertAlmostEqual(b.total, 0.2)
        self.assertTrue(c.correct)
        self.assertEqual(d.error, "item has no task")

    def test_empty_batch_is_invalid_argument(self):
        with self.assertRaises(self.grpc.RpcError) as caught:
            self.stub.Score(self.pb.ScoreRequest(), timeout=10)
        self.assertEqual(caught.exception.code(), self.grpc.StatusCode.INVALID_ARGUMENT)

    def test_health_check(self):
        check = self.channel.unary_unary("/grpc.health.v1.Health/Check")
        response = check(b"", timeout=10)  # HealthCheckRequest{service: ""}
        self.assertEqual(list(fields(response)), [(1, 0, 1)])  # status: SERVING

    def test_reflection_lists_the_reward_service(self):
        call = self.channel.stream_stream("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
        # ServerReflectionRequest{list_services (7): "*"}
        responses = list(call(iter([b"\x3a\x01*"]), timeout=10))
        self.assertEqual(len(responses), 1)
        names = []
        for number, _, value in fields(responses[0]):
            if number == 6:  # list_services_response
                for _, _, service in fields(value):  # repeated ServiceResponse
                    names += [v.decode() for n, _, v in fields(service) if n == 1]
        self.assertIn("r1.reward.RewardService", names)
        self.assertIn("grpc.health.v1.Health", names)


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--r1_reward", required=True)
    parser.add_argument("--source_root", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
