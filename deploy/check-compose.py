#!/usr/bin/env python3
"""Checks deploy/docker-compose.yml without a Docker engine: it parses (PyYAML, with merge keys), has
every MiniS3 service (two coordinators behind HAProxy), uses only MINIS3_* settings that services/common/config.ts knows, and gives each
node a unique id, a dialable address on its own service name, and its own volume."""
import os
import re
import sys

import yaml

here = os.path.dirname(os.path.abspath(__file__))
compose = yaml.safe_load(open(os.path.join(here, "docker-compose.yml")))
known = set(re.findall(r'env: "(MINIS3_[A-Z0-9_]+)"', open(os.path.join(here, "..", "services", "common", "config.ts")).read()))
# The node flags the launcher gives every service (NODE_ARGS in deploy/launcher/plan.ts).
plan = open(os.path.join(here, "launcher", "plan.ts")).read()
node_args = re.findall(r'"([^"]+)"', re.search(r"export const NODE_ARGS = \[(.*?)\];", plan).group(1))
problems = []

services = compose["services"]
expected = {"mariadb", "redis", "haproxy", "coordinator-1", "coordinator-2", "storage-1", "storage-2", "storage-3", "backup-1", "delete-1"}
if set(services) != expected:
    problems.append(f"services are {sorted(services)}, expected {sorted(expected)}")

entry = {"coordinator": "coordinator", "storage": "storage-node", "backup": "backup-node", "delete": "delete-node"}
volumes = set(compose.get("volumes") or {})
for name, svc in services.items():
    if name in ("mariadb", "redis"):
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
    if svc.get("command") != ["node", *node_args, script]:
        problems.append(f"{name}: command should be node {' '.join(node_args)} {script}")
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
    if kind == "coordinator":
        if env.get("MINIS3_S3_PORT") != "9000":
            problems.append(f"{name}: MINIS3_S3_PORT should be 9000 (HAProxy's S3 backend)")
        if env.get("MINIS3_COORDINATORS") != "1":
            problems.append(f"{name}: MINIS3_COORDINATORS should be 1 (HAProxy spreads the load)")
        if svc.get("ports"):
            problems.append(f"{name}: HAProxy publishes the client ports, not the coordinator")
        continue
    if env.get("MINIS3_NODE_ID") != name:
        problems.append(f"{name}: MINIS3_NODE_ID should be {name}")
    if env.get("MINIS3_NODE_ADDRESS") != f"{name}:{env.get('MINIS3_NODE_PORT')}":
        problems.append(f"{name}: MINIS3_NODE_ADDRESS should be {name}:<MINIS3_NODE_PORT>")
    mounts = svc.get("volumes") or []
    if mounts != [f"{name}-data:{env.get('MINIS3_DATA_DIR')}"] or f"{name}-data" not in volumes:
        problems.append(f"{name}: should mount its own declared volume {name}-data at MINIS3_DATA_DIR")

dockerfile = open(os.path.join(here, "Dockerfile")).read()
if f'CMD {["node", *node_args, "dist/services/coordinator/main.js"]}'.replace("'", '"') not in dockerfile:
    problems.append("Dockerfile: CMD should run the coordinator with the launcher's NODE_ARGS")

if problems:
    print("docker-compose.yml problems:\n  " + "\n  ".join(problems))
    sys.exit(1)
print(f"docker-compose.yml OK: {len(services)} services, {len(volumes)} volumes, {len(known)} known MINIS3_* settings")
