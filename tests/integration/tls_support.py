"""TLS helpers for the integration tests: a throw-away PKI made with certtool (Debian gnutls-bin),
config lines for a TLS listener, and the harness's raw MQTT client over Python's ssl module.

Pki(dir) writes ca.crt, server.crt/key, client certificates signed by that CA, one expired, and a
second CA with a client of its own (a certificate mqttd must not trust)."""

import os
import shutil
import ssl
import subprocess
import unittest

import mqtt_harness as h

CERTTOOL = shutil.which("certtool")


def need_certtool():
    if not CERTTOOL:
        raise unittest.SkipTest("certtool (Debian gnutls-bin) is not installed")
    if h.IS_MOSQUITTO:
        raise unittest.SkipTest("TLS listener tests start mqttd with its own listener lines")


def _certtool(*args):
    subprocess.run([CERTTOOL] + list(args), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


class Pki:
    """Keys and certificates under `directory`; every path is an attribute or from cert()."""

    def __init__(self, directory):
        self.dir = directory
        self.ca_crt, self.ca_key = self._ca("ca", "mqttd test CA")
        self.other_ca_crt, self.other_ca_key = self._ca("other-ca", "some other CA")
        self.server_crt, self.server_key = self.issue("server", "localhost", serial=1001,
                                                      server=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def _key(self, name):
        key = self.path(name + ".key")
        _certtool("--generate-privkey", "--key-type", "ecdsa", "--outfile", key)
        return key

    def _template(self, name, lines):
        tmpl = self.path(name + ".tmpl")
        with open(tmpl, "w") as f:
            f.write("\n".join(lines) + "\n")
        return tmpl

    def _ca(self, name, cn):
        key = self._key(name)
        tmpl = self._template(name, ['cn = "%s"' % cn, "ca", "cert_signing_key",
                                     "expiration_days = 30", "serial = 1"])
        crt = self.path(name + ".crt")
        _certtool("--generate-self-signed", "--load-privkey", key, "--template", tmpl,
                  "--outfile", crt)
        return crt, key

    def issue(self, name, cn, serial, server=False, expired=False, other_ca=False):
        """A certificate for `cn` signed by the test CA (or the other CA); returns (crt, key)."""
        key = self._key(name)
        lines = ['cn = "%s"' % cn, "serial = %d" % serial, "signing_key", "encryption_key"]
        if server:
            lines += ['dns_name = "localhost"', 'ip_address = "127.0.0.1"', "tls_www_server"]
        else:
            lines += ["tls_www_client"]
        if expired:
            lines += ['activation_date = "2020-01-01 00:00:00"',
                      'expiration_date = "2020-12-31 00:00:00"']
        else:
            lines += ["expiration_days = 30"]
        tmpl = self._template(name, lines)
        crt = self.path(name + ".crt")
        ca_crt, ca_key = ((self.other_ca_crt, self.other_ca_key) if other_ca
                          else (self.ca_crt, self.ca_key))
        _certtool("--generate-certificate", "--load-privkey", key, "--load-ca-certificate",
                  ca_crt, "--load-ca-privkey", ca_key, "--template", tmpl, "--outfile", crt)
        return crt, key


def listener_lines(port, pki, *extra):
    """Config lines for a TLS listener on 127.0.0.1:port with the PKI's server certificate."""
    return ["listener %d 127.0.0.1" % port, "certfile " + pki.server_crt,
            "keyfile " + pki.server_key] + list(extra)


def client_context(pki, cert=None, version=None):
    """An ssl context trusting the test CA; cert = (crt, key) to present; version pins one."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pki.ca_crt)
    if cert:
        ctx.load_cert_chain(cert[0], cert[1])
    if version:
        ctx.minimum_version = ctx.maximum_version = version
    return ctx


class TlsClient(h.Client):
    """The harness's raw MQTT client over TLS (server name localhost, verified)."""

    def __init__(self, port, ctx, version=h.V5, timeout=3.0, session=None):
        super().__init__(port, version, timeout=timeout)
        self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost", session=session)


def handshake_refused(port, ctx, timeout=3.0):
    """True when the TLS connection cannot carry MQTT: the handshake fails, or (TLS 1.3, where
    the client's certificate is judged after the client finished) the broker closes at once."""
    try:
        c = TlsClient(port, ctx, timeout=timeout)
    except (ssl.SSLError, ConnectionError, OSError):
        return True
    try:
        c.send(h.connect("refused-check"))
        c.expect(h.CONNACK)
    except (ssl.SSLError, EOFError, ConnectionError, OSError, h.ConnectionClosed):
        return True
    finally:
        try:
            c.sock.close()
        except OSError:
            pass
    return False



