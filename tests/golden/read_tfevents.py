#!/usr/bin/python3
"""Reads a TensorBoard event file without r1's code: checks every record's
masked CRC-32C (computed here in pure Python from the Castagnoli polynomial)
and decodes the Event / Summary / Value fields from the wire format. Prints
one JSON object per event. Exits 1 with a message on any corrupt record.

Run: /usr/bin/python3 tests/golden/read_tfevents.py FILE
"""
import json
import struct
import sys

from protobuf_wire import fields

POLY = 0x82F63B78  # CRC-32C (Castagnoli), reflected
TABLE = []
for n in range(256):
    c = n
    for _ in range(8):
        c = (c >> 1) ^ POLY if c & 1 else c >> 1
    TABLE.append(c)


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked(data):
    crc = crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def main(path):
    data = open(path, "rb").read()
    at = 0
    while at < len(data):
        header = data[at:at + 8]
        (length,) = struct.unpack("<Q", header)
        (header_crc,) = struct.unpack("<I", data[at + 8:at + 12])
        if header_crc != masked(header):
            sys.exit(f"{path}: bad length CRC at byte {at}")
        body = data[at + 12:at + 12 + length]
        (body_crc,) = struct.unpack("<I", data[at + 12 + length:at + 16 + length])
        if len(body) != length or body_crc != masked(body):
            sys.exit(f"{path}: bad data CRC at byte {at}")
        at += 16 + length
        event = {}
        for number, _, value in fields(body):
            if number == 1:
                event["wall_time"] = struct.unpack("<d", value)[0]
            elif number == 2:
                event["step"] = value
            elif number == 3:
                event["file_version"] = value.decode()
            elif number == 5:
                scalars = {}
                for _, _, entry in fields(value):
                    tag, simple = None, None
                    for n, _, v in fields(entry):
                        if n == 1:
                            tag = v.decode()
                        elif n == 2:
                            simple = struct.unpack("<f", v)[0]
                    scalars[tag] = simple
                event["scalars"] = scalars
        print(json.dumps(event, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1])
