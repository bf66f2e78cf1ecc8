"""The floor for a Python server: uvloop + hiredis and a dict, nothing else.

Answers exactly what redis-benchmark's SET, GET, INCR, MSET and PING tests send (no checks, no
stats, no expiry), one write per received chunk as minikv does. ``throughput.py --baseline``
runs it next to minikv and redis to show how far minikv is from what Python can do at all.

    python benchmarks/baseline_server.py PORT
"""

import asyncio
import sys

import hiredis
import uvloop

DATA: dict[bytes, bytes] = {}


def run(args: list[bytes]) -> bytes:
    cmd = args[0].upper()
    if cmd == b"GET":
        v = DATA.get(args[1])
        return b"$-1\r\n" if v is None else b"$%d\r\n%b\r\n" % (len(v), v)
    if cmd == b"SET":
        DATA[args[1]] = args[2]
        return b"+OK\r\n"
    if cmd == b"MSET":
        DATA.update(zip(args[1::2], args[2::2], strict=True))
        return b"+OK\r\n"
    if cmd == b"INCR":
        n = int(DATA.get(args[1], b"0")) + 1
        DATA[args[1]] = b"%d" % n
        return b":%d\r\n" % n
    if cmd == b"PING":
        return b"+PONG\r\n"
    return b"*0\r\n"  # CONFIG GET and the like: an empty array


class Conn(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.reader = hiredis.Reader()

    def data_received(self, data: bytes) -> None:
        if data[0] != 0x2A:  # inline request: one command word per line is all we need
            out = [run(line.split()) for line in data.splitlines() if line.strip()]
        else:
            self.reader.feed(data)
            out = []
            while (req := self.reader.gets()) is not False:
                out.append(run(req))
        if out:
            self.transport.write(b"".join(out))  # type: ignore[attr-defined]


async def main(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Conn, "127.0.0.1", port)
    await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1])))
