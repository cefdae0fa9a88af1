#!/usr/bin/python3
"""Golden values of distill_test's TopKDistillationLoss case, element by element
in float64 with Debian's python3-torch (run with /usr/bin/python3)."""
import math

import torch

logits = torch.tensor([[[0.1, 0.2, 0.3, 0.4], [1, 0, -1, 0.5], [0.3, 0.3, 0.1, -0.2]]], dtype=torch.float64)
ids = {1: [2, 0], 2: [1, 3]}            # teacher top-k for token t
teacher = {1: [-0.5, -1.5], 2: [-0.2, -2.0]}
for direction in ["forward", "reverse", "mix"]:
    total = 0.0
    for t in (1, 2):
        log_q = torch.log_softmax(logits[0, t - 1], -1)
        p = [math.exp(x) for x in teacher[t]]
        p = [x / sum(p) for x in p]
        q = [math.exp(log_q[i].item()) for i in ids[t]]
        q_k = [x / sum(q) for x in q]
        fwd = sum(p[j] * (math.log(p[j]) - math.log(q[j])) for j in range(2))
        rev = sum(q_k[j] * (math.log(q_k[j]) - math.log(p[j])) for j in range(2))
        total += {"forward": fwd, "reverse": rev, "mix": 0.5 * (fwd + rev)}[direction]
    print(direction, repr(total / 2))
