"""The protobuf wire format, decoded by hand, for the test scripts that check
r1's output without r1's code or the message's .proto file (TensorBoard event
files, gRPC health and reflection replies)."""


def read_varint(data, at):
    """The base-128 varint at data[at]; returns (value, next position)."""
    value, shift = 0, 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def fields(data):
    """(field number, wire type, value) of each field of a message: ints for
    varints, raw bytes for fixed64, fixed32 and length-delimited fields."""
    at = 0
    while at < len(data):
        key, at = read_varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = read_varint(data, at)
        elif wire == 1:
            value, at = data[at:at + 8], at + 8
        elif wire == 5:
            value, at = data[at:at + 4], at + 4
        elif wire == 2:
            length, at = read_varint(data, at)
            value, at = data[at:at + length], at + length
        else:
            raise ValueError(f"unexpected wire type {wire}")
        yield number, wire, value
