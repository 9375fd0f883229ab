"""dul.py: a minimal DICOM upper-layer client (PS3.8) for the hostile tests: it sends datasets
as raw bytes, so that a 20,000-level one reaches the node without being encoded by DCMTK (whose
writer takes minutes on it), and it can stop half-way through an A-ASSOCIATE-RQ. Stdlib only;
the real clients (storescu, findscu, movescu, echoscu) are used for everything else."""

import socket
import struct

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
APP_CONTEXT = "1.2.840.10008.3.1.1.1"
FIND_STUDY = "1.2.840.10008.5.1.4.1.2.2.1"
MOVE_STUDY = "1.2.840.10008.5.1.4.1.2.2.2"
BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"


def _item(kind, body):
    return struct.pack(">BBH", kind, 0, len(body)) + body


def _uid(u):
    b = u.encode("ascii")
    return b + (b"\0" if len(b) % 2 else b"")


def associate_rq(called, calling, contexts):
    """The bytes of an A-ASSOCIATE-RQ; contexts: [(id, abstract syntax, [transfer syntaxes])]."""
    body = struct.pack(">HH", 1, 0) + called.ljust(16).encode() + calling.ljust(16).encode()
    body += b"\0" * 32 + _item(0x10, APP_CONTEXT.encode())
    for pcid, abstract, tss in contexts:
        sub = _item(0x30, abstract.encode()) + b"".join(_item(0x40, t.encode()) for t in tss)
        body += _item(0x20, struct.pack(">BBBB", pcid, 0, 0, 0) + sub)
    user = _item(0x51, struct.pack(">I", 16384)) + _item(0x52, b"1.2.826.0.1.3680043.10.1492")
    body += _item(0x50, user)
    return struct.pack(">BBI", 0x01, 0, len(body)) + body


def _element(group, elem, value):
    """Implicit VR LE element (the command set's encoding)."""
    if isinstance(value, int):
        value = struct.pack("<H", value)
    elif isinstance(value, str):
        value = _uid(value)
    return struct.pack("<HHI", group, elem, len(value)) + value


def command(field, sop_class, msg_id, sop_instance=None, move_destination=None):
    els = _element(0x0000, 0x0002, sop_class) + _element(0x0000, 0x0100, field)
    els += _element(0x0000, 0x0110, msg_id)
    if move_destination:
        els += _element(0x0000, 0x0600, move_destination.ljust(16))
    els += _element(0x0000, 0x0700, 0) + _element(0x0000, 0x0800, 0x0000)  # dataset present
    if sop_instance:
        els += _element(0x0000, 0x1000, sop_instance)
    return struct.pack("<HHI", 0, 0, 4) + struct.pack("<I", len(els)) + els


class Association:
    def __init__(self, port, abstract, ts, called="HUREN", calling="DULTEST", timeout=60):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.s.sendall(associate_rq(called, calling, [(1, abstract, [ts])]))
        kind, body = self.read_pdu()
        if kind != 0x02:
            raise AssertionError("association not accepted: PDU type 0x%02x" % kind)
        self.pcid = self._accepted(body[68:])

    def _accepted(self, items):
        pos = 0
        while pos + 4 <= len(items):
            kind, length = items[pos], struct.unpack(">H", items[pos + 2:pos + 4])[0]
            if kind == 0x21 and items[pos + 6] == 0:
                return items[pos + 4]
            pos += 4 + length
        raise AssertionError("presentation context refused")

    def _recv(self, n):
        out = b""
        while len(out) < n:
            chunk = self.s.recv(n - len(out))
            if not chunk:
                raise ConnectionError("closed by the node")
            out += chunk
        return out

    def read_pdu(self):
        kind, _, length = struct.unpack(">BBI", self._recv(6))
        return kind, self._recv(length)

    def _send_pdvs(self, data, is_command):
        step = 16000
        for off in range(0, max(len(data), 1), step):
            frag = data[off:off + step]
            last = off + step >= len(data)
            ctrl = (1 if is_command else 0) | (2 if last else 0)
            pdv = struct.pack(">IBB", len(frag) + 2, self.pcid, ctrl) + frag
            self.s.sendall(struct.pack(">BBI", 0x04, 0, len(pdv)) + pdv)

    def request(self, cmd, dataset):
        """Send a command and its dataset; return the status of the first final response."""
        self._send_pdvs(cmd, True)
        self._send_pdvs(dataset, False)
        while True:
            status = self._read_response()
            if status not in (0xFF00, 0xFF01):
                return status

    def _read_response(self):
        cmd = b""
        while True:
            kind, body = self.read_pdu()
            if kind != 0x04:
                raise ConnectionError("PDU type 0x%02x instead of a response" % kind)
            pos, done = 0, False
            while pos < len(body):
                length = struct.unpack(">I", body[pos:pos + 4])[0]
                ctrl = body[pos + 5]
                if ctrl & 1:
                    cmd += body[pos + 6:pos + 4 + length]
                    done = done or bool(ctrl & 2)
                pos += 4 + length
            if done:
                break
        pos = 0
        while pos + 8 <= len(cmd):
            g, e, length = struct.unpack("<HHI", cmd[pos:pos + 8])
            if (g, e) == (0x0000, 0x0900):
                status = struct.unpack("<H", cmd[pos + 8:pos + 10])[0]
                # a pending response carries an identifier: read and drop it
                if status in (0xFF00, 0xFF01):
                    self._drop_dataset()
                return status
            pos += 8 + length
        raise AssertionError("response without a status")

    def _drop_dataset(self):
        while True:
            kind, body = self.read_pdu()
            ctrl = body[5] if len(body) > 5 else 2
            if ctrl & 2:
                return

    def release(self):
        try:
            self.s.sendall(struct.pack(">BBI", 0x05, 0, 4) + b"\0" * 4)
            self.read_pdu()
        except OSError:
            pass
        self.s.close()
