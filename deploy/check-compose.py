#!/usr/bin/env python3
"""Checks deploy/docker-compose.yml without a Docker engine: Debian's docker-compose validates it
against the compose schema (and that it refuses to start without the credentials); it has every
MiniS3 service (two coordinators behind HAProxy) plus Prometheus and Grafana, each with a restart
policy and a health check (MiniS3's through the image's probe, on the service's own port); it uses
only MINIS3_* settings that services/common/config.ts knows, and gives each node a unique id, a
dialable address on its own service name, and its own volume. deploy/prometheus.yml passes
`promtool check config` and scrapes every MiniS3 service; Grafana's provisioning points at that
Prometheus and at deploy/grafana/dashboards/. Needs PyYAML, docker-compose and promtool (.ci/run
installs them)."""
import glob
import json
import os
import re
import shutil
import subprocess
import sys

import yaml

here = os.path.dirname(os.path.abspath(__file__))
compose = yaml.safe_load(open(os.path.join(here, "docker-compose.yml")))
known = set(re.findall(r'env: "(MINIS3_[A-Z0-9_]+)"', open(os.path.join(here, "..", "services", "common", "config.ts")).read()))
# The node flags the launcher gives every service (NODE_ARGS in deploy/launcher/plan.ts; the
# coordinator's are COORDINATOR_NODE_ARGS).
plan = open(os.path.join(here, "launcher", "plan.ts")).read()
node_args = re.findall(r'"([^"]+)"', re.search(r"export const NODE_ARGS = \[(.*?)\];", plan).group(1))
coordinator_args = re.findall(r'"([^"]+)"', re.search(r"export const COORDINATOR_NODE_ARGS = \[(.*?)\];", plan).group(1))
# The image's Node is 20, which needs ARRAY_BUFFER_TRANSFER_ARGS first (the launcher adds them where needed).
transfer_args = re.findall(r'"([^"]+)"', re.search(r"export const ARRAY_BUFFER_TRANSFER_ARGS = \[(.*?)\];", plan).group(1))
node_args = transfer_args + node_args


def malloc_env(name):
    """The MALLOC_* settings of plan.ts's constant `name`."""
    return dict(re.findall(r'(MALLOC_[A-Z_]+): "(\d+)"', re.search(r"export const " + name + r"[^=]*= \{(.*?)\};", plan, re.S).group(1)))


# glibc's malloc settings the launcher gives the blob nodes, and the coordinator.
blob_node_malloc = malloc_env("BLOB_NODE_MALLOC_ENV")
coordinator_malloc = malloc_env("COORDINATOR_MALLOC_ENV")
coordinator_args = transfer_args + coordinator_args
problems = []

services = compose["services"]
minis3 = {"coordinator-1", "coordinator-2", "storage-1", "storage-2", "storage-3", "backup-1", "delete-1"}
expected = minis3 | {"mariadb", "redis", "haproxy", "prometheus", "grafana"}
if set(services) != expected:
    problems.append(f"services are {sorted(services)}, expected {sorted(expected)}")

entry = {"coordinator": "coordinator", "storage": "storage-node", "backup": "backup-node", "delete": "delete-node"}
volumes = set(compose.get("volumes") or {})
for name, svc in services.items():
    if svc.get("restart") not in ("unless-stopped", "always"):
        problems.append(f"{name}: should restart (unless-stopped)")
    if not (svc.get("healthcheck") or {}).get("test"):
        problems.append(f"{name}: has no health check")
    for mount in svc.get("volumes") or []:
        source = mount.split(":")[0]
        if not source.startswith(".") and source not in volumes:
            problems.append(f"{name}: volume {source} is not declared under volumes:")
    if name in ("mariadb", "redis", "prometheus", "grafana"):
        continue
    if name == "haproxy":
        # It owns the client ports and reads deploy/haproxy.cfg, which must name every coordinator.
        cfg = open(os.path.join(here, "haproxy.cfg")).read()
        if "./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" not in (svc.get("volumes") or []):
            problems.append("haproxy: should mount deploy/haproxy.cfg")
        if set(svc.get("ports") or []) != {"127.0.0.1:8080:8080", "127.0.0.1:50051:50051", "127.0.0.1:9000:9000"}:
            problems.append("haproxy: should publish 8080, 50051 and 9000")
        for c in ("coordinator-1", "coordinator-2"):
            for port in ("8080", "50051", "9000"):
                if f"server {c} {c}:{port} check" not in cfg:
                    problems.append(f"haproxy.cfg: no checked server {c}:{port}")
        continue
    env = svc.get("environment") or {}
    for var in env:
        if var.startswith("MINIS3_") and var not in known:
            problems.append(f"{name}: {var} is not a setting in services/common/config.ts")
    kind = name.split("-")[0]
    script = f"dist/services/{entry[kind]}/main.js"
    args = coordinator_args if kind == "coordinator" else node_args
    if svc.get("command") != ["node", *args, script]:
        problems.append(f"{name}: command should be node {' '.join(args)} {script}")
    if not svc.get("build") or svc.get("image") != "minis3:local":
        problems.append(f"{name}: should build the minis3:local image")
    if set((svc.get("depends_on") or {})) != {"mariadb", "redis"}:
        problems.append(f"{name}: should wait for mariadb and redis")
    # Credentials on every interface: nodes need the cluster secret, coordinators the key pair too,
    # each taken from the user's environment (never a default written here).
    wanted = ["MINIS3_CLUSTER_SECRET"] + (["MINIS3_ACCESS_KEY", "MINIS3_SECRET_KEY"] if kind == "coordinator" else [])
    for var in wanted:
        if not str(env.get(var, "")).startswith("${" + var + ":?"):
            problems.append(f"{name}: {var} should come from the environment as ${{{var}:?...}}")
    # The image's probe on the service's own port: the facade's health for a coordinator, grpc.health.v1 for a node.
    probe_target = (
        rf"http://127\.0\.0\.1:{env.get('MINIS3_HTTP_PORT')}/(healthz|readyz)" if kind == "coordinator" else rf"grpc://127\.0\.0\.1:{env.get('MINIS3_NODE_PORT')}"
    )
    test = (svc.get("healthcheck") or {}).get("test") or []
    if test[:3] != ["CMD", "node", "dist/deploy/health-probe.js"] or len(test) != 4 or not re.fullmatch(probe_target, test[3]):
        problems.append(f"{name}: health check should be node dist/deploy/health-probe.js {probe_target}")
    if kind == "coordinator":
        if env.get("MINIS3_S3_PORT") != "9000":
            problems.append(f"{name}: MINIS3_S3_PORT should be 9000 (HAProxy's S3 backend)")
        if env.get("MINIS3_COORDINATORS") != "1":
            problems.append(f"{name}: MINIS3_COORDINATORS should be 1 (HAProxy spreads the load)")
        if not coordinator_malloc or {k: str(env.get(k)) for k in coordinator_malloc} != coordinator_malloc:
            problems.append(f"{name}: should have the launcher's COORDINATOR_MALLOC_ENV {coordinator_malloc}")
        if svc.get("ports"):
            problems.append(f"{name}: HAProxy publishes the client ports, not the coordinator")
        continue
    if not blob_node_malloc or {k: str(env.get(k)) for k in blob_node_malloc} != blob_node_malloc:
        problems.append(f"{name}: should have the launcher's BLOB_NODE_MALLOC_ENV {blob_node_malloc}")
    if env.get("MINIS3_NODE_ID") != name:
        problems.append(f"{name}: MINIS3_NODE_ID should be {name}")
    if env.get("MINIS3_NODE_ADDRESS") != f"{name}:{env.get('MINIS3_NODE_PORT')}":
        problems.append(f"{name}: MINIS3_NODE_ADDRESS should be {name}:<MINIS3_NODE_PORT>")
    mounts = svc.get("volumes") or []
    if mounts != [f"{name}-data:{env.get('MINIS3_DATA_DIR')}"] or f"{name}-data" not in volumes:
        problems.append(f"{name}: should mount its own declared volume {name}-data at MINIS3_DATA_DIR")

dockerfile = open(os.path.join(here, "Dockerfile")).read()
if f'CMD {["node", *coordinator_args, "dist/services/coordinator/main.js"]}'.replace("'", '"') not in dockerfile:
    problems.append("Dockerfile: CMD should run the coordinator with the launcher's COORDINATOR_NODE_ARGS")


def run(command, **kwargs):
    try:
        return subprocess.run(command, capture_output=True, text=True, **kwargs)
    except FileNotFoundError:
        sys.exit(f"check-compose: {command[0]} is not installed (Debian: apt-get install --no-install-recommends docker-compose; promtool: see .ci/run)")


# docker-compose 1.29 (Debian's) validates against the compose schema of its day, which predates the
# top-level `name:`; it is given the file without that line, and the name is checked here.
if compose.get("name") != "minis3":
    problems.append("name: should be minis3 (volume and container names)")
text = "".join(line for line in open(os.path.join(here, "docker-compose.yml")) if not line.startswith("name:"))
credentials = {"MINIS3_ACCESS_KEY": "a" * 20, "MINIS3_SECRET_KEY": "s" * 40, "MINIS3_CLUSTER_SECRET": "c" * 32}
base_env = {k: v for k, v in os.environ.items() if not k.startswith("MINIS3_") and not k.startswith("COMPOSE_")}
checked = run(["docker-compose", "-f", "-", "config", "-q"], input=text, cwd=here, env={**base_env, **credentials})
if checked.returncode != 0:
    problems.append("docker-compose config: " + (checked.stderr or checked.stdout).strip())
without = run(["docker-compose", "-f", "-", "config", "-q"], input=text, cwd=here, env=base_env)
if without.returncode == 0 or "set MINIS3_" not in without.stderr:
    problems.append("docker-compose config: should refuse to start without the credentials")

# Prometheus scrapes every MiniS3 process on its metrics port.
prometheus = services.get("prometheus") or {}
if "./prometheus.yml:/etc/prometheus/prometheus.yml:ro" not in (prometheus.get("volumes") or []):
    problems.append("prometheus: should mount deploy/prometheus.yml")
promtool = run(["promtool", "check", "config", os.path.join(here, "prometheus.yml")])
if promtool.returncode != 0:
    problems.append("promtool check config: " + (promtool.stderr or promtool.stdout).strip())
scrape = yaml.safe_load(open(os.path.join(here, "prometheus.yml")))
targets = {t for job in scrape.get("scrape_configs") or [] for sc in job.get("static_configs") or [] for t in sc.get("targets") or []}
for name in sorted(minis3):
    port = (services.get(name, {}).get("environment") or {}).get("MINIS3_METRICS_PORT", "9100")
    if f"{name}:{port}" not in targets:
        problems.append(f"prometheus.yml: {name}:{port} (its MINIS3_METRICS_PORT) is not a scrape target")

# Grafana: Prometheus as the data source, and the dashboards folder as a provider.
grafana = services.get("grafana") or {}
mounts = dict(m.split(":")[:2] for m in grafana.get("volumes") or [])
if mounts.get("./grafana/provisioning") != "/etc/grafana/provisioning":
    problems.append("grafana: should mount deploy/grafana/provisioning at /etc/grafana/provisioning")
dashboards_at = mounts.get("./grafana/dashboards")
if not dashboards_at:
    problems.append("grafana: should mount deploy/grafana/dashboards")
sources = [d for f in glob.glob(os.path.join(here, "grafana/provisioning/datasources/*.yml")) for d in yaml.safe_load(open(f)).get("datasources") or []]
if not any(d.get("type") == "prometheus" and d.get("url") == "http://prometheus:9090" for d in sources):
    problems.append("grafana: no provisioned data source of type prometheus at http://prometheus:9090")
providers = [p for f in glob.glob(os.path.join(here, "grafana/provisioning/dashboards/*.yml")) for p in yaml.safe_load(open(f)).get("providers") or []]
if not any(p.get("type") == "file" and (p.get("options") or {}).get("path") == dashboards_at for p in providers):
    problems.append(f"grafana: no file dashboard provider reading {dashboards_at}")
uids = {d.get("uid") for d in sources}
for path in glob.glob(os.path.join(here, "grafana/dashboards/*.json")):
    try:
        board = json.load(open(path))
    except ValueError as e:
        problems.append(f"{os.path.relpath(path, here)}: not JSON ({e})")
        continue
    # a panel's data source is the provisioned one (by uid) or a ${...} variable
    used = set(re.findall(r'"uid":\s*"([^"]+)"', json.dumps([p.get("datasource") for p in board.get("panels") or []])))
    for uid in sorted(u for u in used if not u.startswith("$") and u not in uids):
        problems.append(f"{os.path.relpath(path, here)}: data source uid {uid} is not provisioned")
home = (grafana.get("environment") or {}).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
if home and (not dashboards_at or not os.path.exists(os.path.join(here, "grafana/dashboards", os.path.relpath(home, dashboards_at)))):
    problems.append(f"grafana: home dashboard {home} is not in deploy/grafana/dashboards")

if problems:
    print("docker-compose.yml problems:\n  " + "\n  ".join(problems))
    sys.exit(1)
print(
    f"docker-compose.yml OK: {len(services)} services, {len(volumes)} volumes, {len(known)} known MINIS3_* settings, "
    f"docker-compose config valid; prometheus.yml valid with {len(targets)} targets; grafana provisioned"
)
