"""Real PostgreSQL, Redis, Mosquitto and HTTP servers on 127.0.0.1 for the `wait` tests."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import ipaddress
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

REQUIRE = os.environ.get("GITOPS_LIFECYCLE_REQUIRE_SERVICES") == "1"
PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
HTTP_APP = Path(__file__).with_name("http_app.py")


FAST = ("--base-delay", "0.1", "--max-delay", "0.3", "--max-attempts", "100")
"""Flags for a quick backoff, so tests against real servers take seconds."""


def binary(name: str, *dirs: Path) -> str:
    """The path of a server binary; skip (or fail when services are required) without it."""
    for directory in dirs:
        if (directory / name).is_file():
            return str(directory / name)
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found:
        return found
    message = (f"{name} is not installed (Debian: postgresql, redis-server, mosquitto, "
               "mariadb-server)")
    if REQUIRE:
        pytest.fail(f"{message}; GITOPS_LIFECYCLE_REQUIRE_SERVICES=1 requires it")
    pytest.skip(message)


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 15) -> None:
    """Block until something accepts on 127.0.0.1:`port`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


def stop(process: subprocess.Popen[bytes] | None) -> None:
    """End a server we started."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- the `wait` process -----------------------------------------------------------------------


@dataclasses.dataclass
class Waited:
    """How a `gitops-lifecycle wait` process ended."""

    returncode: int
    summary: dict[str, object]
    stderr: str


def wait_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for `wait`: no inherited libpq variables, JSON logs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["GITOPS_LIFECYCLE_LOGGING__FORMAT"] = "json"
    env.update(extra or {})
    return env


def start_wait(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start `python -m gitops_lifecycle wait ARGS…`."""
    return subprocess.Popen(
        [sys.executable, "-m", "gitops_lifecycle", "wait", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=wait_env(env),
    )


def finish(process: subprocess.Popen[bytes], timeout: float = 30) -> Waited:
    """Wait for the process and read its summary line."""
    out, err = process.communicate(timeout=timeout)
    lines = out.decode().strip().splitlines()
    summary = json.loads(lines[-1]) if lines else {}
    return Waited(process.returncode, summary, err.decode())


def run_wait(*args: str, env: dict[str, str] | None = None, timeout: float = 30) -> Waited:
    """Run `wait` to the end."""
    return finish(start_wait(*args, env=env), timeout)


def first_failure(process: subprocess.Popen[bytes]) -> None:
    """Block until the process logs its first failed attempt."""
    assert process.stderr is not None
    for raw in process.stderr:
        if b"attempt failed" in raw:
            return
    raise AssertionError("the wait ended without a failed attempt")


def terminate_after_first_attempt(process: subprocess.Popen[bytes]) -> Waited:
    """Send SIGTERM once the process has logged a failed attempt, and collect its summary."""
    first_failure(process)
    process.send_signal(signal.SIGTERM)
    return finish(process, timeout=5)


# --- TLS material -----------------------------------------------------------------------------


@dataclasses.dataclass
class Tls:
    """A CA and a server certificate for 127.0.0.1 / localhost signed by it."""

    ca: Path
    cert: Path
    key: Path
    ca_key: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_tls(directory: Path, *, host: str = "localhost") -> Tls:
    """Generate a throw-away CA and a server certificate for `host` and 127.0.0.1."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder().subject_name(_name("test CA")).issuer_name(_name("test CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    sans = [x509.DNSName(host), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder().subject_name(_name(host)).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    tls = Tls(directory / "ca.crt", directory / "server.crt", directory / "server.key",
              directory / "ca.key")
    tls.ca_key.write_bytes(ca_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))
    tls.ca_key.chmod(0o600)
    tls.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    tls.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    tls.key.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))
    tls.key.chmod(0o600)
    return tls


# --- PostgreSQL -------------------------------------------------------------------------------

PG_PASSWORD = "pg-secret"


def _unprivileged() -> tuple[list[str], int]:
    """PostgreSQL refuses to run as root: the command prefix and uid to run it as."""
    if os.geteuid() != 0:
        return [], os.geteuid()
    for user in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(user)
            # setpriv execs the server itself, so our signals reach it directly.
            prefix = ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}",
                      "--clear-groups", "--"]
            return prefix, entry.pw_uid
    pytest.fail("running as root and neither user postgres nor nobody exists")


class Postgres:
    """One initialised cluster, started and stopped on demand on any port."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.prefix, uid = _unprivileged()
        self.process: subprocess.Popen[bytes] | None = None
        self.tls = make_tls(root / "tls")
        password_file = root / "password"
        password_file.write_text(PG_PASSWORD + "\n")
        for path in (root, password_file, *root.joinpath("tls").iterdir(), root / "tls"):
            os.chown(path, uid, -1)
        initdb = binary("initdb", *PG_BIN_DIRS)
        subprocess.run(
            [*self.prefix, initdb, "-D", str(self.data), "-U", "postgres", "--no-sync",
             "-A", "scram-sha-256", f"--pwfile={password_file}"],
            check=True, capture_output=True,
        )
        (self.data / "pg_hba.conf").write_text(
            "hostssl all all 127.0.0.1/32 scram-sha-256\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
        )

    def start(self, port: int, *, ssl: bool = True) -> None:
        """Start the server on 127.0.0.1:`port` (TLS on with `ssl`) and wait until it listens."""
        postgres = binary("postgres", *PG_BIN_DIRS)
        options = ["-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.root}",
                   "-c", "fsync=off", "-c", f"ssl={'on' if ssl else 'off'}",
                   "-c", f"ssl_cert_file={self.tls.cert}", "-c", f"ssl_key_file={self.tls.key}"]
        self.process = subprocess.Popen(
            [*self.prefix, postgres, "-D", str(self.data), "-p", str(port), *options],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for_port(port)

    def stop(self) -> None:
        """Stop it (fast shutdown)."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(15)


@contextlib.contextmanager
def postgres_cluster() -> Iterator[Postgres]:
    """An initialised PostgreSQL cluster in a directory the server's user may own."""
    root = Path(tempfile.mkdtemp(prefix="wait-pg-"))
    root.chmod(0o755)
    try:
        cluster = Postgres(root)
        try:
            yield cluster
        finally:
            cluster.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


# --- Redis, Mosquitto, HTTP -------------------------------------------------------------------

REDIS_PASSWORD = "redis-secret"
MQTT_USER, MQTT_PASSWORD = "app", "mqtt-secret"


def start_redis(port: int) -> subprocess.Popen[bytes]:
    """redis-server with a password, ACL users `app` and `noping` (no PING), no persistence."""
    server = binary("redis-server")
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--requirepass", REDIS_PASSWORD, "--user", "app", "on", f">{REDIS_PASSWORD}", "~*",
         "&*", "+@all", "--user", "noping", "on", f">{REDIS_PASSWORD}", "~*", "&*", "+@all",
         "-ping"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_for_port(port)
    return process


def mosquitto_config(directory: Path, port: int) -> Path:
    """A Mosquitto configuration with a password file and no anonymous access."""
    passwd = binary("mosquitto_passwd")
    passwords = directory / "passwords"
    subprocess.run([passwd, "-c", "-b", str(passwords), MQTT_USER, MQTT_PASSWORD], check=True,
                   capture_output=True)
    passwords.chmod(0o644)
    config = directory / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {passwords}\n"
        # Run as ourselves: as root it would switch to `mosquitto`, who cannot read tmp_path.
        f"persistence false\nuser {pwd.getpwuid(os.geteuid()).pw_name}\n"
    )
    return config


def mosquitto_tls_config(directory: Path, port: int, tls: Tls) -> Path:
    """A Mosquitto TLS listener that admits only clients with a certificate from `tls`'s CA."""
    config = directory / "mosquitto-tls.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\ncafile {tls.ca}\ncertfile {tls.cert}\nkeyfile {tls.key}\n"
        "require_certificate true\nuse_identity_as_username true\nallow_anonymous false\n"
        f"persistence false\nuser {pwd.getpwuid(os.geteuid()).pw_name}\n"
    )
    return config


def start_redis_tls(port: int, tls: Tls) -> subprocess.Popen[bytes]:
    """redis-server on TLS only, requiring a client certificate from `tls`'s CA."""
    server = binary("redis-server")
    process = subprocess.Popen(
        [server, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--tls-cert-file", str(tls.cert), "--tls-key-file", str(tls.key),
         "--tls-ca-cert-file", str(tls.ca), "--tls-auth-clients", "yes"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_for_port(port)
    return process


def start_mosquitto(config: Path, port: int) -> subprocess.Popen[bytes]:
    """Mosquitto with the given configuration."""
    server = binary("mosquitto", Path("/usr/sbin"))
    process = subprocess.Popen([server, "-c", str(config)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port)
    return process


def start_http(port: int, *, tls: Tls | None = None,
               client_ca: Path | None = None) -> subprocess.Popen[bytes]:
    """The little aiohttp application in `http_app.py` (requiring client certificates from
    `client_ca`'s clients when given)."""
    args = [sys.executable, str(HTTP_APP), str(port)]
    if tls is not None:
        args += [str(tls.cert), str(tls.key)]
    if client_ca is not None:
        args.append(str(client_ca))
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port)
    return process


def client_certificate(tls: Tls, directory: Path, *, name: str = "client") -> tuple[Path, Path]:
    """A client certificate for mutual TLS, signed by `tls`'s CA: (certificate, key)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = serialization.load_pem_private_key(tls.ca_key.read_bytes(), password=None)
    ca_cert = x509.load_pem_x509_certificate(tls.ca.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(_name(name)).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))
    key_path.chmod(0o600)
    return cert_path, key_path


# --- MariaDB ----------------------------------------------------------------------------------

MYSQL_USER, MYSQL_PASSWORD = "app", "mysql-secret"


class Mariadb:
    """One initialised MariaDB data directory, started and stopped on demand on any port."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.process: subprocess.Popen[bytes] | None = None
        install = binary("mariadb-install-db")
        subprocess.run(
            [install, "--no-defaults", f"--datadir={self.data}", "--user=root",
             "--auth-root-authentication-method=normal", "--skip-test-db"],
            check=True, capture_output=True,
        )
        # Create the user before any test connects: a server that listens knows it.
        self.start(free_port())
        client = binary("mariadb")
        subprocess.run(
            [client, "--no-defaults", f"--socket={self.root / 'sock'}", "-uroot", "-e",
             (f"CREATE USER '{MYSQL_USER}'@'%' IDENTIFIED BY '{MYSQL_PASSWORD}'; "
             f"GRANT ALL ON *.* TO '{MYSQL_USER}'@'%';")],
            check=True, capture_output=True,
        )
        self.stop()

    def start(self, port: int) -> None:
        """Start the server on 127.0.0.1:`port`."""
        server = binary("mariadbd", Path("/usr/sbin"))
        self.process = subprocess.Popen(
            [server, "--no-defaults", f"--datadir={self.data}", f"--port={port}",
             "--bind-address=127.0.0.1", f"--socket={self.root / 'sock'}", "--user=root",
             "--skip-log-bin", "--innodb-buffer-pool-size=16M", f"--pid-file={self.root}/pid"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for_port(port, timeout=30)

    def stop(self) -> None:
        """Stop it."""
        process, self.process = self.process, None
        stop(process)


@contextlib.contextmanager
def mariadb_server() -> Iterator[Mariadb]:
    """An initialised MariaDB in a temporary directory."""
    root = Path(tempfile.mkdtemp(prefix="wait-mariadb-"))
    try:
        server = Mariadb(root)
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
