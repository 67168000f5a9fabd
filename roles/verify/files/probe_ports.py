"""Probe guest TCP ports through their forwards on 127.0.0.1; print {guest port: answered|silent} as JSON.

Runs on the controller. User-mode networking accepts every forwarded connection on the host side, so an
accepted connect proves nothing: the probe sends an HTTP HEAD request and waits. A guest port that is let
through answers, or closes the connection (nothing listens: the guest resets it); a port the firewall drops
stays silent. Arguments: GUEST:HOST pairs.
"""
import json
import socket
import sys

WAIT = 8


def probe(port):
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=WAIT) as sock:
            sock.sendall(b'HEAD / HTTP/1.0\r\n\r\n')
            sock.recv(64)
            return 'answered'
    except socket.timeout:
        return 'silent'
    except OSError:
        return 'answered'


def main(pairs):
    result = {}
    for pair in pairs:
        guest, host = pair.split(':')
        result[guest] = probe(int(host))
    json.dump(result, sys.stdout)


if __name__ == '__main__':
    main(sys.argv[1:])
