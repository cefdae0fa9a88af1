#!/usr/bin/python3
"""Independent reference for common/random.h: SplitMix64 seeding and
xoshiro256** (Blackman and Vigna), written from the published algorithm.
Prints the first outputs for seed 42, which common/random_test.cc holds."""
M = (1 << 64) - 1


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & M
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
    return state, z ^ (z >> 31)


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M


def xoshiro(seed, n):
    state, s = seed, []
    for _ in range(4):
        state, v = splitmix64(state)
        s.append(v)
    out = []
    for _ in range(n):
        out.append((rotl((s[1] * 5) & M, 7) * 9) & M)
        t = (s[1] << 17) & M
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
    return out


if __name__ == "__main__":
    print([hex(x) for x in xoshiro(42, 3)])
