"""The production topology on one machine: `make prod-up`, `make prod-down`, `make prod-status` (deploy/README.md).

    nginx (TLS :8443, HTTP :8080 redirects) -> web1, web2 (granian :8101, :8102) -> PostgreSQL primary, Redis
    PostgreSQL: pg_auto_failover monitor (:5440), node1 and node2 (:5441, :5442; primary and synchronous hot standby)
    pgBackRest (WAL archiving, repo1 on-site, repo2 off-site), restic (media files), run by Celery on their schedule
    celery-worker, celery-beat; prometheus (:9090) -> alertmanager (:9093) -> https://.../ops/alerts/webhook

All of it runs under one supervisord. Configuration is rendered from the templates in deploy/ into PROD_DIR
(default var/prod): supervisord.conf and conf.d/*.conf, nginx/nginx.conf, prometheus.yml, alertmanager.yml.
Secrets are generated once into PROD_DIR/env (mode 0600) and read by every process through SAFETRAIN_ENV_FILE.

Standard library only; run with .venv/bin/python. Settings from the environment (defaults in brackets):
PROD_DIR [var/prod], PROD_HTTPS_PORT [8443], PROD_HTTP_PORT [8080], PROD_WEB_PORTS [8101,8102],
PROD_PROMETHEUS_PORT [9090], PROD_ALERTMANAGER_PORT [9093], PROD_PG_PORTS [5440,5441,5442] (monitor, node1, node2),
PROD_PG_DIR [PROD_DIR/pg], PROD_BACKUP_DIR [PROD_DIR/backup], PROD_BACKUP_OFFSITE_DIR [PROD_BACKUP_DIR/offsite]
(pgBackRest's repo2: mount the off-site storage there, or point repo2 at S3 in pgbackrest.conf),
PROD_DATABASE_URL [unset: the formation above; set: that database instead, with no standby and no backups of
ours], PROD_REDIS_URL [redis://127.0.0.1:6379/3],
PROD_HOSTNAMES [127.0.0.1,localhost] (public names: certificate, ALLOWED_HOSTS, CSRF origins, PUBLIC_BASE_URL),
PROD_LISTEN_ADDRESS [127.0.0.1] (nginx), PROD_NGINX_USER [www-data when run as root] (nginx worker processes),
PROD_START_TIMEOUT [120] (seconds `up` waits for every part to answer).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import ipaddress
import json
import os
import pwd
import re
import secrets
import signal
import socket
import ssl
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dbcluster import DBNAME, NODES, PG_AUTOCTL, PGBACKREST, RESTIC, RUNUSER, Cluster, ClusterFailure

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
VENV_BIN = ROOT / ".venv" / "bin"
RULES_FILE = DEPLOY / "prometheus" / "alerts.yml"
PROGRAMS = (
    "nginx",
    "web1",
    "web2",
    "celery-worker",
    "celery-backup",
    "celery-beat",
    "prometheus",
    "alertmanager",
)
BINARIES = {
    "nginx": "/usr/sbin/nginx",
    "supervisord": "/usr/bin/supervisord",
    "supervisorctl": "/usr/bin/supervisorctl",
    "prometheus": "/usr/bin/prometheus",
    "promtool": "/usr/bin/promtool",
    "prometheus-alertmanager": "/usr/bin/prometheus-alertmanager",
    "amtool": "/usr/bin/amtool",
    "openssl": "/usr/bin/openssl",
}
DATABASE_BINARIES = {
    "pg_autoctl": PG_AUTOCTL,
    "pgbackrest": PGBACKREST,
    "restic": RESTIC,
    "runuser": RUNUSER,
}
DATABASE_PROGRAMS = ("pg-monitor", *(f"pg-{n}" for n in NODES))
SECRET_NAMES = (
    "SECRET_KEY",
    "FIELD_ENCRYPTION_KEYS",
    "BLIND_INDEX_KEY",
    "AUDIT_CHAIN_KEY",
    "AUDIT_CHECKPOINT_KEY",
    "METRICS_TOKEN",
    "ALERT_WEBHOOK_TOKEN",
)
# Paths and URLs go into nginx and supervisord files unquoted: keep them to characters neither treats specially.
SAFE_PATH = re.compile(r"^[A-Za-z0-9._/+-]+$")
PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


class Failure(Exception):
    """A reason `up` or `down` stops, printed without a traceback."""


def say(message: str) -> None:
    print(message, flush=True)  # noqa: T201 - a command-line tool


@dataclass(frozen=True)
class Topology:
    prod_dir: Path
    https_port: int
    http_port: int
    web_ports: tuple[int, ...]
    prometheus_port: int
    alertmanager_port: int
    database_url: str
    redis_url: str
    hostnames: tuple[str, ...]
    listen_address: str
    nginx_user: str
    start_timeout: float
    cluster: Cluster | None  # None: PROD_DATABASE_URL names a database managed elsewhere

    @classmethod
    def from_env(cls, environ: dict[str, str]) -> Topology:
        def port(name: str, default: int) -> int:
            value = environ.get(name) or str(default)
            if not value.isdigit() or not 0 < int(value) < 65536:
                raise Failure(f"{name}={value!r} is not a port number")
            return int(value)

        web_ports = []
        for value in (environ.get("PROD_WEB_PORTS") or "8101,8102").split(","):
            if not value.strip().isdigit() or not 0 < int(value) < 65536:
                raise Failure(f"PROD_WEB_PORTS: {value!r} is not a port number")
            web_ports.append(int(value))

        def folder(name: str, default: Path) -> Path:
            value = Path(environ.get(name) or default)
            return value if value.is_absolute() else ROOT / value

        prod_dir = folder("PROD_DIR", ROOT / "var" / "prod")
        cluster = None
        if not environ.get("PROD_DATABASE_URL"):
            pg_ports = []
            for value in (environ.get("PROD_PG_PORTS") or "5440,5441,5442").split(","):
                if not value.strip().isdigit() or not 0 < int(value) < 65536:
                    raise Failure(f"PROD_PG_PORTS: {value!r} is not a port number")
                pg_ports.append(int(value))
            if len(pg_ports) != 3:
                raise Failure(f"PROD_PG_PORTS must name three ports (monitor, node1, node2), not {pg_ports}")
            backup_dir = folder("PROD_BACKUP_DIR", prod_dir / "backup")
            cluster = Cluster(
                pg_dir=folder("PROD_PG_DIR", prod_dir / "pg"),
                backup_dir=backup_dir,
                offsite_dir=folder("PROD_BACKUP_OFFSITE_DIR", backup_dir / "offsite"),
                prod_dir=prod_dir,
                monitor_port=pg_ports[0],
                node_ports=(pg_ports[1], pg_ports[2]),
            )
        default_user = "www-data" if os.geteuid() == 0 else ""
        topology = cls(
            prod_dir=prod_dir,
            https_port=port("PROD_HTTPS_PORT", 8443),
            http_port=port("PROD_HTTP_PORT", 8080),
            web_ports=tuple(web_ports),
            prometheus_port=port("PROD_PROMETHEUS_PORT", 9090),
            alertmanager_port=port("PROD_ALERTMANAGER_PORT", 9093),
            database_url=environ.get("PROD_DATABASE_URL") or (cluster.database_url if cluster else ""),
            redis_url=environ.get("PROD_REDIS_URL") or "redis://127.0.0.1:6379/3",
            # Public names first (the certificate's subject, PUBLIC_BASE_URL); 127.0.0.1 and localhost always, since
            # the start-up checks, Prometheus and Alertmanager reach the nodes and nginx by those.
            hostnames=tuple(
                dict.fromkeys(
                    [
                        *(h.strip() for h in (environ.get("PROD_HOSTNAMES") or "").split(",") if h.strip()),
                        "127.0.0.1",
                        "localhost",
                    ]
                )
            ),
            listen_address=environ.get("PROD_LISTEN_ADDRESS") or "127.0.0.1",
            nginx_user=environ.get("PROD_NGINX_USER") or default_user,
            start_timeout=float(environ.get("PROD_START_TIMEOUT") or 120),
            cluster=cluster,
        )
        topology.validate()
        return topology

    def validate(self) -> None:
        if len(self.web_ports) != 2:
            raise Failure(f"PROD_WEB_PORTS must name two ports (one per web node), not {self.web_ports}")
        ports = self.ports
        if len(set(ports)) != len(ports):
            raise Failure(f"the topology's ports must all differ: {ports}")
        folders = [ROOT, self.prod_dir]
        if self.cluster:
            folders += [self.cluster.pg_dir, self.cluster.backup_dir, self.cluster.offsite_dir]
        for path in folders:
            if not SAFE_PATH.match(str(path)):
                raise Failure(f"{path}: use a path of letters, digits and ._/+- only")
        # A unix socket's path is limited to 107 bytes.
        if len(str(self.socket)) > 100:
            raise Failure(f"PROD_DIR is too long for supervisord's socket ({self.socket})")
        for value in (self.database_url, self.redis_url, *self.hostnames):
            if any(c in value for c in '"\n\r') or (value in self.hostnames and not SAFE_PATH.match(value)):
                raise Failure(
                    f"{value!r}: quotes and newlines (and, in host names, spaces) are not supported"
                )
        if not self.hostnames:
            raise Failure("PROD_HOSTNAMES names no host")

    # Paths -------------------------------------------------------------------------------------------------------
    @property
    def log_dir(self) -> Path:
        return self.prod_dir / "log"

    @property
    def tls_dir(self) -> Path:
        return self.prod_dir / "tls"

    @property
    def conf(self) -> Path:
        return self.prod_dir / "supervisord.conf"

    @property
    def pidfile(self) -> Path:
        return self.prod_dir / "supervisord.pid"

    @property
    def socket(self) -> Path:
        return self.prod_dir / "supervisor.sock"

    @property
    def static_root(self) -> Path:
        """collectstatic's output (STATIC_ROOT), served by nginx: each topology its own, of its own release."""
        return self.prod_dir / "static"

    @property
    def env_file(self) -> Path:
        return self.prod_dir / "env"

    @property
    def metrics_token_file(self) -> Path:
        return self.prod_dir / "metrics.token"

    @property
    def alert_webhook_token_file(self) -> Path:
        return self.prod_dir / "alert-webhook.token"

    @property
    def nodes(self) -> dict[str, int]:
        return {f"web{i}": p for i, p in enumerate(self.web_ports, start=1)}

    @property
    def ports(self) -> list[int]:
        return [
            self.https_port,
            self.http_port,
            *self.web_ports,
            self.prometheus_port,
            self.alertmanager_port,
            *((self.cluster.monitor_port, *self.cluster.node_ports) if self.cluster else ()),
        ]

    @property
    def programs(self) -> tuple[str, ...]:
        return (*PROGRAMS, *(DATABASE_PROGRAMS if self.cluster else ()))

    # Addresses ---------------------------------------------------------------------------------------------------
    @property
    def public_url(self) -> str:
        return self.origin(self.hostnames[0])

    def origin(self, host: str) -> str:
        return f"https://{host}" + ("" if self.https_port == 443 else f":{self.https_port}")

    def django_environment(self) -> dict[str, str]:
        """What every program's environment holds besides the secrets file (the same for manage.py here)."""
        return {
            "SAFETRAIN_PROD_DIR": str(self.prod_dir),  # marks this topology's processes (see leftovers())
            "SAFETRAIN_ENV_FILE": str(self.env_file),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "false",
            "TRUSTED_PROXIES": "127.0.0.1/32,::1/128",
            "ALLOWED_HOSTS": ",".join(self.hostnames),
            "CSRF_TRUSTED_ORIGINS": ",".join(self.origin(h) for h in self.hostnames),
            "SECURE_COOKIES": "true",
            "PUBLIC_BASE_URL": self.public_url,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "MEDIA_ROOT": str(self.prod_dir / "media"),
            "STATIC_ROOT": str(self.static_root),
            "PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            **self.backup_environment(),
        }

    def backup_environment(self) -> dict[str, str]:
        """The managed formation's standby and backup commands (integrations.backups runs them on schedule)."""
        if not self.cluster:
            return {}
        return {
            "DATABASE_STANDBYS_EXPECTED": "1",
            "BACKUP_PGBACKREST_COMMAND": " ".join(self.cluster.pgbackrest_command),
            "BACKUP_RESTIC_COMMAND": " ".join(self.cluster.restic_command),
            "BACKUP_RESTIC_OFFSITE_COMMAND": " ".join(self.cluster.restic_offsite_command),
        }


# Templates ------------------------------------------------------------------------------------------------------
def render(template: Path, target: Path, values: dict[str, str], mode: int = 0o644) -> None:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise Failure(f"{template}: no value for {{{{ {name} }}}}")
        return values[name]

    target.parent.mkdir(parents=True, exist_ok=True)
    text = PLACEHOLDER.sub(value, template.read_text(encoding="utf-8"))
    write(target, text, mode)


def write(path: Path, text: str, mode: int = 0o644) -> None:
    """Replace `path` whole; a secret is never readable by others, not even for a moment."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    with os.fdopen(
        os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode & 0o600), "w", encoding="utf-8"
    ) as f:
        f.write(text)
    tmp.chmod(mode)
    tmp.replace(path)


def supervisor_value(value: str) -> str:
    """A value inside a supervisord file: % starts its own expansions."""
    return value.replace("%", "%%")


def supervisor_environment(env: dict[str, str]) -> str:
    return ",".join(f'{k}="{supervisor_value(v)}"' for k, v in env.items())


def render_all(t: Topology, rules_file: Path) -> None:
    common = {
        "root": str(ROOT),
        "prod_dir": str(t.prod_dir),
        "log_dir": str(t.log_dir),
    }
    prometheus_address = f"127.0.0.1:{t.prometheus_port}"
    alertmanager_address = f"127.0.0.1:{t.alertmanager_port}"
    supervisor = DEPLOY / "supervisor"
    conf_d = t.prod_dir / "conf.d"
    sv = {k: supervisor_value(v) for k, v in common.items()}
    render(
        supervisor / "supervisord.conf.in",
        t.conf,
        {**sv, "environment": supervisor_environment(t.django_environment())},
        mode=0o600,  # may hold the database password
    )
    for node, port in t.nodes.items():
        render(
            supervisor / "web.conf.in",
            conf_d / f"{node}.conf",
            {
                **sv,
                "node": node,
                "port": str(port),
                "web_host": "127.0.0.1",
                "multiproc_dir": supervisor_value(str(t.prod_dir / "metrics" / node)),
            },
        )
    render(supervisor / "celery.conf.in", conf_d / "celery.conf", sv)
    render(supervisor / "nginx.conf.in", conf_d / "nginx.conf", sv)
    render(
        supervisor / "monitoring.conf.in",
        conf_d / "monitoring.conf",
        {**sv, "prometheus_address": prometheus_address, "alertmanager_address": alertmanager_address},
    )

    if t.cluster:
        render_database(t, sv)
    else:
        (conf_d / "database.conf").unlink(missing_ok=True)

    max_upload_mb = int(read_env_file(t.env_file).get("VIDEO_MAX_UPLOAD_MB") or 2048)
    render(
        DEPLOY / "nginx" / "nginx.conf.in",
        t.prod_dir / "nginx" / "nginx.conf",
        {
            **common,
            "user_directive": f"user {t.nginx_user};" if t.nginx_user and os.geteuid() == 0 else "",
            "listen_address": t.listen_address,
            "http_port": str(t.http_port),
            "https_port": str(t.https_port),
            "https_port_suffix": "" if t.https_port == 443 else f":{t.https_port}",
            "tls_dir": str(t.tls_dir),
            "static_root": str(t.static_root),
            "client_max_body_mb": str(max_upload_mb + 16),  # room for the multipart envelope
            "upstream_servers": "\n".join(
                f"        server 127.0.0.1:{p} max_fails=3 fail_timeout=5s;" for p in t.web_ports
            ),
        },
    )

    q = json.dumps  # a JSON string is a YAML string
    render(
        DEPLOY / "prometheus" / "prometheus.yml.in",
        t.prod_dir / "prometheus.yml",
        {
            **common,
            "rules_file": q(str(rules_file)),
            "alertmanager_address": q(alertmanager_address),
            "prometheus_address": q(prometheus_address),
            "metrics_token_file": q(str(t.metrics_token_file)),
            "web_targets": "\n".join(
                f"      - targets: [{q(f'127.0.0.1:{p}')}]\n        labels: {{node: {node}}}"
                for node, p in t.nodes.items()
            ),
        },
    )
    render(
        DEPLOY / "alertmanager" / "alertmanager.yml.in",
        t.prod_dir / "alertmanager.yml",
        {
            **common,
            "webhook_url": q(f"{t.origin('127.0.0.1')}/ops/alerts/webhook"),
            "alert_webhook_token_file": q(str(t.alert_webhook_token_file)),
            "tls_ca_file": q(str(t.tls_dir / "cert.pem")),
        },
    )


def render_database(t: Topology, sv: dict[str, str]) -> None:
    """The formation's programs for supervisord and pgBackRest's configuration (deploy/supervisor/database*.conf.in,
    deploy/pgbackrest/pgbackrest.conf.in)."""
    c = t.cluster
    assert c is not None
    user_line = f"user={c.user}" if os.geteuid() == 0 else ""
    pg_env = supervisor_environment(c.environment())
    nodes = []
    template = (DEPLOY / "supervisor" / "database-node.conf.in").read_text(encoding="utf-8")
    for node, port in zip(NODES, c.node_ports, strict=True):
        values = {
            **sv,
            "program": f"pg-{node}",
            "node": node,
            "port": str(port),
            "pg_dir": supervisor_value(str(c.pg_dir)),
            "dbname": DBNAME,
            "monitor_uri": supervisor_value(c.monitor_uri),
            "user_line": user_line,
            "pg_environment": pg_env,
            "autostart": "true" if node == "node1" or c.created(node) else "false",
        }
        nodes.append(PLACEHOLDER.sub(lambda m, v=values: v[m.group(1)], template))
    render(
        DEPLOY / "supervisor" / "database.conf.in",
        t.prod_dir / "conf.d" / "database.conf",
        {
            **sv,
            "pg_dir": supervisor_value(str(c.pg_dir)),
            "pg_user": c.user,
            "monitor_port": str(c.monitor_port),
            "user_line": user_line,
            "pg_environment": pg_env,
            "nodes": "\n".join(nodes),
        },
    )
    render(
        DEPLOY / "pgbackrest" / "pgbackrest.conf.in",
        c.pgbackrest_conf,
        {
            "prod_dir": str(t.prod_dir),
            "repo1": str(c.backup_dir / "repo1"),
            "repo2": str(c.pgbackrest_offsite),
            "log_dir": str(t.log_dir / "pgbackrest"),
            "lock_dir": str(c.pg_dir / "pgbackrest-lock"),
            "spool_dir": str(c.pg_dir / "pgbackrest-spool"),
            "socket_dir": str(c.socket_dir),
            "node1_data": str(c.data("node1")),
            "node1_port": str(c.node_ports[0]),
            "node2_data": str(c.data("node2")),
            "node2_port": str(c.node_ports[1]),
        },
    )


def postgresql_settings(t: Topology) -> str:
    assert t.cluster is not None
    template = (DEPLOY / "postgresql" / "safetrain.conf.in").read_text(encoding="utf-8")
    values = {"pgbackrest": PGBACKREST, "pgbackrest_conf": str(t.cluster.pgbackrest_conf)}
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


# Secrets and certificate ----------------------------------------------------------------------------------------
def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                key, _, value = line.partition("=")
                values[key.strip()] = value.strip()
    return values


def ensure_secrets(t: Topology) -> None:
    """PROD_DIR/env once (never replaced: its keys decrypt the data), and the two token files derived from it."""
    present = read_env_file(t.env_file)
    new = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        # A Fernet key is 32 random bytes in URL-safe base64 (cryptography's Fernet.generate_key()).
        "FIELD_ENCRYPTION_KEYS": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "BLIND_INDEX_KEY": secrets.token_urlsafe(32),
        # The audit chains' HMAC key and the Ed25519 seed (base64) that signs their checkpoints.
        "AUDIT_CHAIN_KEY": secrets.token_urlsafe(32),
        "AUDIT_CHECKPOINT_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "METRICS_TOKEN": secrets.token_urlsafe(32),
        "ALERT_WEBHOOK_TOKEN": secrets.token_urlsafe(32),
    }
    missing = [name for name in SECRET_NAMES if not present.get(name)]
    if missing:
        header = (
            ""
            if t.env_file.exists()
            else "# SafeTrain production secrets and settings, written once by deploy/prod.py (make prod-up).\n"
            "# Keep this file: FIELD_ENCRYPTION_KEYS and BLIND_INDEX_KEY decrypt and find the stored personal data.\n"
            "# Any variable of .env.example may be added here; the topology's own (DATABASE_URL, hosts, ports)\n"
            "# come from supervisord.conf and win over this file. For a demo without cameras or authenticators:\n"
            "# REQUIRE_2FA_FOR_STAFF=false\n# FACE_CHECK_AT_LOGIN=false\n# FACE_CHECKS_WHILE_STUDYING=false\n"
            "# FACE_CHECK_AT_EXAM=false\n"
        )
        old = t.env_file.read_text(encoding="utf-8") if t.env_file.exists() else ""
        if old and not old.endswith("\n"):
            old += "\n"
        write(t.env_file, header + old + "".join(f"{n}={new[n]}\n" for n in missing), mode=0o600)
        say(f"wrote {', '.join(missing)} to {t.env_file}")
    values = read_env_file(t.env_file)
    for path, name in (
        (t.metrics_token_file, "METRICS_TOKEN"),
        (t.alert_webhook_token_file, "ALERT_WEBHOOK_TOKEN"),
    ):
        if not path.is_file() or path.read_text(encoding="utf-8") != values[name]:
            write(path, values[name], mode=0o600)
    t.env_file.chmod(0o600)


def ensure_certificate(t: Topology) -> None:
    cert, key = t.tls_dir / "cert.pem", t.tls_dir / "key.pem"
    if cert.is_file() and key.is_file():
        return
    t.tls_dir.mkdir(parents=True, exist_ok=True)
    t.tls_dir.chmod(0o700)
    names = []
    for host in t.hostnames:
        try:
            ipaddress.ip_address(host)
            names.append(f"IP:{host}")
        except ValueError:
            names.append(f"DNS:{host}")
    request = "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825".split()
    run(
        [
            BINARIES["openssl"],
            *request,
            "-subj",
            f"/CN={t.hostnames[0]}",
            "-addext",
            f"subjectAltName={','.join(names)}",
        ]
        + ["-keyout", str(key), "-out", str(cert)],
        quiet=True,
    )
    key.chmod(0o600)
    say(f"created a self-signed certificate for {', '.join(t.hostnames)} in {t.tls_dir}")


# Processes ------------------------------------------------------------------------------------------------------
def run(
    command: list[str], *, env: dict[str, str] | None = None, quiet: bool = False
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=quiet, text=True, check=False)
    if result.returncode != 0:
        output = f"\n{result.stdout}{result.stderr}" if quiet else ""
        raise Failure(f"{' '.join(command)} failed (exit {result.returncode}){output}")
    return result


def manage(t: Topology, *args: str, **extra: str) -> None:
    say(f"manage.py {' '.join(args)}")
    started = time.monotonic()
    run([str(VENV_BIN / "python"), "manage.py", *args], env={**t.django_environment(), **extra})
    say(f"manage.py {args[0]}: done in {time.monotonic() - started:.0f} s")


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (a daemon's parent here may never reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def pid_from(pidfile: Path, *words: str) -> int | None:
    """The live process a pid file names, if its command line still holds `words` (a pid may be reused)."""
    try:
        pid = int(pidfile.read_text().strip())
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (OSError, ValueError):
        return None
    return pid if alive(pid) and all(w in command for w in words) else None


def supervisord_pid(t: Topology) -> int | None:
    return pid_from(t.pidfile, "supervisord", str(t.conf))


def parents() -> dict[int, int]:
    result = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                result[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    return result


def descendants(pids: Iterable[int]) -> set[int]:
    ppid = parents()
    found = set(pids)
    grew = True
    while grew:
        more = {pid for pid, parent in ppid.items() if parent in found} - found
        found |= more
        grew = bool(more)
    return {pid for pid in found if alive(pid)}


def leftovers(t: Topology) -> set[int]:
    """Processes of this topology: marked by SAFETRAIN_PROD_DIR in their environment, nginx by its pid file."""
    marker = f"SAFETRAIN_PROD_DIR={t.prod_dir}".encode()
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.add(int(entry.name))
    # nginx rewrites its environment (its process title): found by its pid file and its -p folder instead.
    nginx = pid_from(t.prod_dir / "nginx" / "nginx.pid", "nginx", f"{t.prod_dir}/nginx")
    return descendants(found | ({nginx} if nginx else set()))


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


def port_free(port: int, host: str) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def supervisorctl(t: Topology, *args: str, quiet: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BINARIES["supervisorctl"], "-c", str(t.conf), *args],
        cwd=ROOT,
        capture_output=quiet,
        text=True,
        check=False,
    )


# Checks ---------------------------------------------------------------------------------------------------------
def check_binaries(t: Topology) -> None:
    wanted = {**BINARIES, **(DATABASE_BINARIES if t.cluster else {})}
    missing = [name for name, path in wanted.items() if not os.access(path, os.X_OK)]
    if missing:
        raise Failure(
            f"missing {', '.join(missing)}: run `make prod-up` as root once (it installs the Debian packages "
            "nginx supervisor prometheus prometheus-alertmanager openssl pgbackrest restic "
            "postgresql-15-auto-failover)"
        )


def check_reachable(path: Path, user: str) -> None:
    """nginx's worker processes (running as `user`) must reach their temporary folders and the static files."""
    try:
        account = pwd.getpwnam(user)
    except KeyError:
        raise Failure(f"PROD_NGINX_USER={user}: no such user") from None
    if account.pw_uid == 0:
        return
    groups = {account.pw_gid} | {g for g in os.getgrouplist(user, account.pw_gid)}
    for folder in [*reversed(path.parents), path]:
        st = folder.stat()
        if st.st_uid == account.pw_uid:
            ok = st.st_mode & stat.S_IXUSR
        elif st.st_gid in groups:
            ok = st.st_mode & stat.S_IXGRP
        else:
            ok = st.st_mode & stat.S_IXOTH
        if not ok:
            raise Failure(
                f"nginx's workers run as {user}, who cannot enter {folder} (on the way to {path}): choose a "
                "PROD_DIR that user can reach, or set PROD_NGINX_USER"
            )


def prepare_nginx_dirs(t: Topology) -> None:
    tmp = t.prod_dir / "nginx" / "tmp"
    for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp / name).mkdir(parents=True, exist_ok=True)
    if t.nginx_user and os.geteuid() == 0:
        check_reachable(tmp, t.nginx_user)
        check_reachable(t.static_root, t.nginx_user)
        account = pwd.getpwnam(t.nginx_user)
        for folder in (tmp, *tmp.iterdir()):
            os.chown(folder, account.pw_uid, account.pw_gid)
            folder.chmod(0o700)


def rules_file(t: Topology) -> Path:
    if RULES_FILE.is_file():
        return RULES_FILE
    placeholder = t.prod_dir / "alerts-placeholder.yml"
    write(placeholder, "# deploy/prometheus/alerts.yml does not exist yet: no alerting rules.\ngroups: []\n")
    say(f"note: {RULES_FILE} is missing; Prometheus evaluates no rules ({placeholder})")
    return placeholder


def validate(t: Topology) -> None:
    nginx = [BINARIES["nginx"], "-p", f"{t.prod_dir}/nginx", "-e", str(t.log_dir / "nginx-error.log")]
    run([*nginx, "-t", "-q", "-c", str(t.prod_dir / "nginx" / "nginx.conf")], quiet=True)
    run([BINARIES["promtool"], "check", "config", str(t.prod_dir / "prometheus.yml")], quiet=True)
    run([BINARIES["amtool"], "check-config", str(t.prod_dir / "alertmanager.yml")], quiet=True)


def ensure_database(t: Topology) -> None:
    url = urllib.parse.urlsplit(t.database_url)
    if url.scheme not in ("postgres", "postgresql", "pgsql"):
        return
    name = urllib.parse.unquote(url.path.lstrip("/"))
    maintenance = urllib.parse.urlunsplit(("postgresql", url.netloc, "/postgres", url.query, ""))
    import psycopg  # the project's own driver, in .venv

    with psycopg.connect(maintenance, autocommit=True, connect_timeout=10) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return
        connection.execute(f'CREATE DATABASE "{name.replace(chr(34), chr(34) * 2)}"')
    say(f"created database {name}")


# Waiting --------------------------------------------------------------------------------------------------------
def http_status(url: str, context: ssl.SSLContext | None = None) -> int | None:
    request = urllib.request.Request(url, headers={"User-Agent": "safetrain-prod-up"})
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (OSError, ValueError):
        return None


def nginx_uses_every_node(t: Topology, tls: ssl.SSLContext) -> bool:
    """nginx leaves out for a while a node that refused connections (as it did while starting): ready once it sends
    requests to both again. The lines of nginx's access log name the node that answered (`upstream=`)."""
    marker = secrets.token_hex(8)
    for _ in range(2 * len(t.web_ports)):
        http_status(f"https://127.0.0.1:{t.https_port}/healthz?ready={marker}", tls)
    answered = set()
    for line in (t.log_dir / "nginx-access.log").read_text(errors="replace").splitlines():
        if marker in line and '" 200 ' in line and (found := re.search(r"upstream=(?:\S+, )*(\S+) ", line)):
            answered.add(found.group(1))
    return answered >= {f"127.0.0.1:{p}" for p in t.web_ports}


def wait_until_up(t: Topology) -> None:
    tls = ssl.create_default_context(cafile=str(t.tls_dir / "cert.pem"))
    checks = {
        "nginx -> web nodes": (f"https://127.0.0.1:{t.https_port}/healthz", tls),
        **{f"{node} directly": (f"http://127.0.0.1:{p}/healthz", None) for node, p in t.nodes.items()},
        "prometheus": (f"http://127.0.0.1:{t.prometheus_port}/-/ready", None),
        "alertmanager": (f"http://127.0.0.1:{t.alertmanager_port}/-/ready", None),
    }
    deadline = time.monotonic() + t.start_timeout
    waiting = dict(checks)
    not_running: list[str] = list(t.programs)
    while time.monotonic() < deadline:
        waiting = {name: c for name, c in waiting.items() if http_status(*c) != 200}
        status = supervisorctl(t, "status", quiet=True).stdout
        not_running = [p for p in t.programs if not re.search(rf"^{re.escape(p)}\s+RUNNING", status, re.M)]
        if not waiting and not not_running:
            if nginx_uses_every_node(t, tls):
                return
            waiting = {"nginx -> both web nodes": checks["nginx -> web nodes"]}
        time.sleep(1)
    supervisorctl(t, "status")
    for program in {*not_running, *("nginx" if n.startswith("nginx") else n.split()[0] for n in waiting)}:
        log = t.log_dir / f"{program}.log"
        if log.is_file():
            say(f"--- last lines of {log}")
            say("\n".join(log.read_text(errors="replace").splitlines()[-30:]))
    raise Failure(
        f"not answering after {t.start_timeout:.0f} s: {', '.join([*waiting, *not_running])} "
        f"(logs in {t.log_dir}; `make prod-down` stops what did start)"
    )


# Commands -------------------------------------------------------------------------------------------------------
def print_addresses(t: Topology) -> None:
    say(f"SafeTrain is at {t.public_url}/  (self-signed certificate: {t.tls_dir / 'cert.pem'})")
    say(f"  http://127.0.0.1:{t.http_port}/ redirects there; web nodes: {', '.join(map(str, t.web_ports))}")
    say(
        f"  Prometheus http://127.0.0.1:{t.prometheus_port}/  Alertmanager http://127.0.0.1:{t.alertmanager_port}/"
    )
    if t.cluster:
        say(
            f"  database: {t.database_url} (monitor :{t.cluster.monitor_port}); backups in {t.cluster.backup_dir}, "
            f"off-site copy in {t.cluster.offsite_dir}; restore drill: make restore-drill"
        )
    say(f"  logs: {t.log_dir}/  status: make prod-status  stop: make prod-down")


def configure(t: Topology) -> None:
    """Secrets and certificate (once), then every configuration file rendered and checked by its own program."""
    for name in ("log", "conf.d", "media", "metrics", "static"):
        (t.prod_dir / name).mkdir(parents=True, exist_ok=True)
    t.prod_dir.chmod(0o755)  # nginx's workers pass through to their temporary folders; secrets are 0600
    ensure_secrets(t)
    ensure_certificate(t)
    render_all(t, rules_file(t))
    prepare_nginx_dirs(t)
    validate(t)


def up(t: Topology) -> None:
    check_binaries(t)
    if supervisord_pid(t):
        say(
            f"already running (supervisord pid {supervisord_pid(t)}); `make prod-down` first to apply changes"
        )
        wait_until_up(t)
        print_addresses(t)
        return
    busy = [
        p
        for p in t.ports
        if not port_free(p, t.listen_address if p in (t.https_port, t.http_port) else "127.0.0.1")
    ]
    if busy:
        raise Failure(f"ports in use: {', '.join(map(str, busy))} (set PROD_*_PORT, or stop what holds them)")
    configure(t)
    manage(t, "collectstatic", "--noinput", "-v", "0")
    if not (t.static_root / "staticfiles.json").is_file():
        raise Failure(
            f"collectstatic wrote no manifest into {t.static_root} (does settings.py read STATIC_ROOT?)"
        )
    if t.cluster:
        # The formation runs under supervisord with everything else: the web nodes answer 503 until it is ready
        # and migrated, then serve by themselves.
        t.cluster.prepare(postgresql_settings(t))
        standby_created = t.cluster.created("node2")
        begun = time.monotonic()
        start_supervisord(t)
        try:
            if not standby_created:
                t.cluster.wait_for_node(
                    "node1", ("single", "wait_primary", "primary"), max(t.start_timeout, 300)
                )
                supervisorctl(t, "start", "pg-node2", quiet=True)
            t.cluster.wait_for_formation(max(t.start_timeout, 300), say)
            say(
                f"database formation ready: primary and synchronous standby ({time.monotonic() - begun:.0f} s)"
            )
            t.cluster.tune_keepers()
            t.cluster.tune_monitor()
            t.cluster.stanza_create()
        except ClusterFailure as failure:
            raise Failure(f"{failure} (`make prod-down` stops what did start)") from None
        if t.cluster.restic_init():
            say(
                f"created the media backup repositories in {t.cluster.restic_repository} and {t.cluster.offsite_dir}"
            )
        migrate_and_seed(t)
        # The first backups at once (a restore point from the first minute), then on schedule from Celery beat.
        manage(t, "backup_run", "--due")
    else:
        ensure_database(t)
        migrate_and_seed(t)
        start_supervisord(t)
    wait_until_up(t)
    print_addresses(t)


def migrate_and_seed(t: Topology) -> None:
    manage(t, "migrate", "--noinput")
    wanted = os.environ.get("PROD_SEED_DEMO")
    if wanted == "0":
        say("not loading the demo data (PROD_SEED_DEMO=0)")
    elif t.listen_address in ("127.0.0.1", "::1", "localhost") or wanted == "1":
        # Its tasks (the demo video's transcoding) run inline, as the demo's next steps expect them done; the
        # topology's Celery worker may already be running.
        manage(t, "seed_demo", CELERY_BROKER_URL="")
    else:
        # The demo's staff passwords are in the repository: never on a topology others can reach, unless asked.
        say("not loading the demo accounts: nginx listens beyond this machine (PROD_SEED_DEMO=1 loads them)")


def start_supervisord(t: Topology) -> None:
    say(f"starting supervisord ({t.conf})")
    # A clean environment: nothing of the caller's shell (a test's DJANGO_SETTINGS_MODULE, a CI DATABASE_URL)
    # reaches the programs; supervisord.conf gives them theirs.
    clean = {k: t.django_environment()[k] for k in ("PATH", "LANG", "HOME", "SAFETRAIN_PROD_DIR")}
    run([BINARIES["supervisord"], "-c", str(t.conf)], env=clean)


def down(t: Topology, timeout: float = 150) -> None:
    pid = supervisord_pid(t)
    if pid:
        children = supervisorctl(t, "pid", "all", quiet=True).stdout.split()
        watched = descendants([pid, *(int(c) for c in children if c.isdigit())])
        say(f"stopping supervisord (pid {pid}) and {len(watched) - 1} processes")
        supervisorctl(t, "shutdown", quiet=True)
    else:
        watched = set()
    watched |= leftovers(t)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in watched):
        time.sleep(0.5)
    remaining = {p for p in watched | leftovers(t) if alive(p)}
    if remaining and not supervisord_pid(t):
        # supervisord is gone but something it started is not (e.g. supervisord was killed): end those, by pid.
        say(f"ending leftover processes {sorted(remaining)}")
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for p in remaining:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p, sig)
            end = time.monotonic() + 15
            while time.monotonic() < end and any(alive(p) for p in remaining):
                time.sleep(0.3)
            remaining = {p for p in remaining if alive(p)}
            if not remaining:
                break
    if remaining:
        raise Failure(f"still running after {timeout:.0f} s: {sorted(remaining)}")
    for stale in (t.pidfile, t.socket):
        stale.unlink(missing_ok=True)
    if not watched:
        say(f"not running ({t.prod_dir})")
        return
    end = time.monotonic() + 30
    while time.monotonic() < end and (open_ports := [p for p in t.ports if port_open(p)]):
        time.sleep(0.5)
    if open_ports := [p for p in t.ports if port_open(p)]:
        raise Failure(
            f"the topology stopped but ports {open_ports} still answer (another program holds them)"
        )
    say("stopped")


def status(t: Topology) -> int:
    if not supervisord_pid(t):
        say(f"not running ({t.prod_dir})")
        return 3
    code = supervisorctl(t, "status").returncode
    if t.cluster:
        try:
            for node in t.cluster.states():
                say(
                    f"  database {node['node']} (:{node['port']}): {node['reported']}, assigned {node['assigned']}"
                )
            for backup in t.cluster.info()[-3:]:
                stop = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(backup["timestamp"]["stop"]))
                say(
                    f"  backup {backup['label']} ({backup['type']}, repo{backup['database']['repo-key']}) {stop}"
                )
        except Exception as problem:  # noqa: BLE001 - any failure to read is reported, status still prints
            say(f"  database: cannot read the formation or its backups ({problem})")
            code = code or 1
    print_addresses(t)
    return code


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `make prod-status | head` ends quietly
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "command",
        choices=("up", "down", "status", "render"),
        help="render: write and check the configuration in PROD_DIR, start nothing",
    )
    args = parser.parse_args(argv)
    try:
        t = Topology.from_env(dict(os.environ))
        if args.command == "up":
            up(t)
        elif args.command == "down":
            down(t)
        elif args.command == "render":
            check_binaries(t)
            configure(t)
            say(f"configuration written to {t.prod_dir} and checked")
        else:
            return status(t)
    except Failure as failure:
        say(f"prod {args.command}: {failure}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
