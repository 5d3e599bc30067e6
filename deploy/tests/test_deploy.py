"""The deployment files of deploy/ and the Dockerfile, checked with the tools
that run them or with their schemas: the BuildKit parser, docker-compose,
nginx -t, promtool, helm and the Kubernetes JSON schemas, the local
ClickHouse engine; and every setting they give Mesure is accepted by the
`mesure` binary itself (`mesure config`, which refuses unknown keys).

Needs target/debug/mesure (make test builds it first) and what
scripts/setup.sh installs."""

from __future__ import annotations

import copy
import ipaddress
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import chdb
import dockerfile
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
MESURE = ROOT / "target" / "debug" / "mesure"
HELM = ROOT / ".tools" / "bin" / "helm"
CHART = DEPLOY / "helm" / "mesure"
# The oldest Kubernetes the chart accepts (Chart.yaml) and a recent one.
KUBERNETES = ["1.27.0", "1.35.0"]
# The values an operator fills in .env.
ENV = {
    "COLLECTOR_HOST": "stats.example.fr",
    "DASHBOARD_HOST": "tableau.example.fr",
    "CLICKHOUSE_PASSWORD": "secret-ch",
    "GRAFANA_ADMIN_PASSWORD": "secret-grafana",
}


def run(args, env=None, cwd=None, check=True, input=None):
    out = subprocess.run(
        [str(a) for a in args], env=env, cwd=cwd, input=input,
        capture_output=True, text=True, timeout=120)
    if check:
        assert out.returncode == 0, f"{args}:\n{out.stdout}\n{out.stderr}"
    return out


def mesure_config(env: dict[str, str], config: Path | None = None) -> str:
    """`mesure config` as a service started with `env` would read it."""
    assert MESURE.exists(), "build it first: cargo build -p mesure"
    args = [MESURE, "config"] + (["--config", config] if config else [])
    out = run(args, env={"PATH": os.environ["PATH"], **env}, check=False)
    assert out.returncode == 0, f"mesure refuses {env}:\n{out.stderr}"
    return out.stdout


# ---------------------------------------------------------------- Dockerfile

def test_the_image_is_multi_stage_non_root_with_a_health_check():
    commands = dockerfile.parse_file(str(ROOT / "Dockerfile"))
    stages = [c for c in commands if c.cmd == "FROM"]
    assert len(stages) == 3, stages
    for stage in stages:
        image = stage.value[0]
        assert ":" in image and not image.endswith(":latest"), image
    final = commands[commands.index(stages[-1]):]
    by = {}
    for c in final:
        by.setdefault(c.cmd, []).append(c)
    assert by["USER"][-1].value[0] == "65532:65532"
    assert by["HEALTHCHECK"][0].value[:4] == ("CMD", "/usr/local/bin/mesure", "health", "collector")
    assert by["ENTRYPOINT"][0].value == ("/usr/local/bin/mesure",)
    assert by["VOLUME"][0].value == ("/var/lib/mesure",)
    # The one writable folder belongs to the user.
    assert any("--chown=65532:65532" in c.flags for c in by["COPY"])
    # Every file copied from the build context exists and is not ignored.
    ignored = [line for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line and not line.startswith("#")]
    for c in commands:
        if c.cmd == "COPY" and not any(f.startswith("--from") for f in c.flags):
            for source in c.value[:-1]:
                if source != ".":
                    assert (ROOT / source).exists(), source
                    assert source.split("/")[0] not in ignored, source
    for heavy in ["target", "node_modules", ".git", ".venv"]:
        assert heavy in ignored
    # The image's environment is a valid configuration for the binary,
    # GeoIP list included.
    env = {}
    for c in by["ENV"]:
        values = list(c.value)
        env.update(zip(values[::2], values[1::2]))
    applied = mesure_config(env)
    assert 'listen = "0.0.0.0:8080"' in applied
    assert "/usr/share/mesure/geoip/GeoLite2-City.mmdb" in applied


# ------------------------------------------------------------ compose stack

def compose_config(env: dict[str, str]) -> subprocess.CompletedProcess:
    return run(["docker-compose", "-f", DEPLOY / "compose" / "compose.yaml", "config"],
               env={"PATH": os.environ["PATH"], **env}, check=False)


def volume(spec: str) -> dict[str, str]:
    """A volume as docker-compose prints it: SOURCE:TARGET[:MODE]."""
    source, target = spec.split(":")[:2]
    kind = "bind" if source.startswith("/") else "volume"
    return {"type": kind, "source": source, "target": target}


def port(spec) -> dict[str, str]:
    """A port as docker-compose prints it: [IP:]HOST:CONTAINER/PROTO or a mapping."""
    if isinstance(spec, dict):
        return {"host_ip": spec.get("host_ip", "0.0.0.0"), "published": str(spec["published"])}
    parts = spec.split("/")[0].split(":")
    return {"host_ip": parts[0] if len(parts) == 3 else "0.0.0.0", "published": parts[-2]}


@pytest.fixture(scope="module")
def compose():
    out = compose_config(ENV)
    assert out.returncode == 0, out.stderr
    config = yaml.safe_load(out.stdout)
    for service in config["services"].values():
        service["volumes"] = [volume(v) for v in service.get("volumes", [])]
        service["ports"] = [port(p) for p in service.get("ports", [])]
    return config


def test_compose_refuses_to_start_without_its_secrets():
    for missing in ["CLICKHOUSE_PASSWORD", "COLLECTOR_HOST"]:
        env = {k: v for k, v in ENV.items() if k != missing}
        out = compose_config(env)
        assert out.returncode != 0 and missing in out.stderr, out.stderr


def test_env_example_names_every_variable_compose_needs():
    text = (DEPLOY / "compose" / "compose.yaml").read_text()
    needed = set(re.findall(r"\$\{([A-Z_]+)", text))
    example = (DEPLOY / "compose" / ".env.example").read_text()
    given = set(re.findall(r"^([A-Z_]+)=", example, re.M))
    assert needed <= given, needed - given


def test_compose_services_are_confined_and_ordered(compose):
    services = compose["services"]
    assert set(services) == {"clickhouse", "migrate", "collector", "dashboard",
                             "nginx", "prometheus", "grafana"}
    for name in ["migrate", "collector", "dashboard"]:
        s = services[name]
        assert s["read_only"] is True and s["user"] == "65532:65532", name
        assert s["cap_drop"] == ["ALL"] and "no-new-privileges:true" in s["security_opt"]
        assert s["command"] == [name]
    assert services["migrate"]["restart"] == "no"
    for name in ["collector", "dashboard"]:
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert services[name]["healthcheck"]["test"] == ["CMD", "/usr/local/bin/mesure", "health", name]
    spool = [v for v in services["collector"]["volumes"] if v["target"] == "/var/lib/mesure/spool"]
    assert spool and spool[0]["type"] == "volume"
    # Pinned images; ClickHouse on a long-term-support line (YY.3 or YY.8).
    for name, s in services.items():
        image = s["image"]
        if name not in ("migrate", "collector", "dashboard"):
            assert re.search(r":v?\d+\.\d+", image), image
    assert re.search(r"clickhouse-server:\d+\.(3|8)(\.|$)", services["clickhouse"]["image"])
    # Prometheus and Grafana are reached from this host only.
    for name in ["prometheus", "grafana"]:
        for port in services[name]["ports"]:
            assert port["host_ip"] == "127.0.0.1", port
    # Every file mounted from the repository exists (but the certificate,
    # which the operator brings).
    tls = DEPLOY / "compose" / "tls"
    for s in services.values():
        for v in s["volumes"]:
            if v["type"] == "bind" and Path(v["source"]) != tls:
                assert Path(v["source"]).exists(), v["source"]


def test_only_the_proxy_gives_the_client_address(compose):
    services = compose["services"]
    proxy = services["nginx"]["networks"]["front"]["ipv4_address"]
    subnet = compose["networks"]["front"]["ipam"]["config"][0]["subnet"]
    assert ipaddress.ip_address(proxy) in ipaddress.ip_network(subnet)
    for name in ["migrate", "collector", "dashboard"]:
        env = services[name]["environment"]
        for service in ["COLLECTOR", "DASHBOARD"]:
            assert env[f"MESURE_{service}_TRUSTED_PROXIES"] == f'["{proxy}/32"]'
            assert env[f"MESURE_{service}_FORWARDED_HEADER"] == "x-forwarded-for"
        # The binary takes every setting compose gives it.
        applied = mesure_config(env)
        assert f'trusted_proxies = ["{proxy}/32"]' in applied
        assert "secret-ch" not in applied, "passwords are not printed"


def test_the_proxy_configuration_passes_nginx_t(tmp_path):
    template = (DEPLOY / "compose" / "nginx" / "mesure.conf.template").read_text()
    # What the nginx image does at start (envsubst on defined variables),
    # and the compose service names as this host resolves them.
    conf = template.replace("${COLLECTOR_HOST}", ENV["COLLECTOR_HOST"])
    conf = conf.replace("${DASHBOARD_HOST}", ENV["DASHBOARD_HOST"])
    assert "${" not in conf
    conf = conf.replace("server collector:", "server 127.0.0.1:").replace("server dashboard:", "server 127.0.0.1:")
    conf = conf.replace("/etc/nginx/tls/", f"{tmp_path}/")
    # The client address: overwritten with the peer's, never appended; the
    # other header the collector could read is removed; metrics stay private.
    assert conf.count("proxy_set_header X-Forwarded-For $remote_addr;") == 2
    assert conf.count('proxy_set_header Forwarded "";') == 2
    assert "$proxy_add_x_forwarded_for" not in conf
    assert conf.count("location = /metrics {\n        return 404;") == 2
    # No access log keeps full addresses or shared links' secrets.
    assert "access_log off;" in conf and "access_log /" not in conf
    assert conf.count("access_log off;") == 3
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=stats.example.fr", "-keyout", tmp_path / "privkey.pem",
         "-out", tmp_path / "fullchain.pem"])
    (tmp_path / "mesure.conf").write_text(conf)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
        f"http {{\n  include {tmp_path}/mesure.conf;\n}}\n")
    nginx = "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "nginx"
    out = run([nginx, "-t", "-p", tmp_path, "-e", "stderr", "-c", tmp_path / "nginx.conf"], check=False)
    assert out.returncode == 0 and "test is successful" in out.stderr, out.stderr


def test_prometheus_and_grafana_of_the_stack(compose, tmp_path):
    services = compose["services"]
    prometheus = yaml.safe_load((DEPLOY / "compose" / "prometheus" / "prometheus.yml").read_text())
    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in prometheus["scrape_configs"]}
    assert targets == {"mesure-collector": ["collector:8080"],
                       "mesure-dashboard": ["dashboard:8081"],
                       "clickhouse": ["clickhouse:9363"]}
    # The jobs the alert rules and the Grafana dashboard select.
    rules = (DEPLOY / "prometheus" / "alerts.yml").read_text()
    for job in targets:
        assert f'job="{job}"' in rules, job
    # The rules file is mounted where prometheus.yml loads it from.
    mounts = {v["target"]: v["source"] for v in services["prometheus"]["volumes"] if v["type"] == "bind"}
    assert Path(mounts[prometheus["rule_files"][0]]) == DEPLOY / "prometheus" / "alerts.yml"
    local = copy.deepcopy(prometheus)
    local["rule_files"] = [str(DEPLOY / "prometheus" / "alerts.yml")]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(local))
    run(["promtool", "check", "config", tmp_path / "prometheus.yml"])
    # Grafana: the provisioned data source and dashboard folder.
    grafana = {v["target"]: v["source"] for v in services["grafana"]["volumes"] if v["type"] == "bind"}
    datasources = yaml.safe_load((DEPLOY / "compose" / "grafana" / "datasources" / "prometheus.yml").read_text())
    assert datasources["datasources"][0]["url"] == "http://prometheus:9090"
    providers = yaml.safe_load((DEPLOY / "compose" / "grafana" / "dashboards" / "mesure.yml").read_text())
    folder = providers["providers"][0]["options"]["path"]
    assert Path(grafana[f"{folder}/mesure.json"]) == DEPLOY / "grafana" / "mesure.json"


# ---------------------------------------------------------------- ClickHouse

def test_clickhouse_system_logs_expire_and_metrics_are_served():
    root = ET.parse(DEPLOY / "compose" / "clickhouse" / "mesure.xml").getroot()
    logs = [e for e in root if e.tag.endswith("_log")]
    assert len(logs) >= 10
    for log in logs:
        ttl = log.findtext("ttl")
        assert ttl and "DELETE" in ttl, log.tag
        # The engine parses the TTL over a system log's date column.
        chdb.query(f"SELECT formatQuery('CREATE TABLE t (event_date Date) "
                   f"ENGINE = MergeTree ORDER BY tuple() TTL {ttl}')")
    with pytest.raises(chdb.ChdbError):
        chdb.query("SELECT formatQuery('CREATE TABLE t (event_date Date) "
                   "ENGINE = MergeTree ORDER BY tuple() TTL event_date + INTERVAL 7 FORTNIGHT DELETE')")
    assert root.findtext("prometheus/port") == "9363"
    assert root.findtext("prometheus/asynchronous_metrics") == "true"


def test_the_cluster_example_matches_the_cluster_rendering_of_the_migrations():
    rendered = (ROOT / "schema" / "tests" / "golden" / "cluster.sql").read_text()
    cluster = ET.parse(DEPLOY / "cluster" / "server" / "cluster.xml").getroot()
    servers = cluster.find("remote_servers")
    (name,) = [c.tag for c in servers]
    assert f"ON CLUSTER {name}" in rendered and f"Distributed({name}," in rendered
    shards = servers.findall(f"{name}/shard")
    assert len(shards) == 2
    hosts = {}
    for number, shard in enumerate(shards, 1):
        assert shard.findtext("internal_replication") == "true"
        replicas = [r.findtext("host") for r in shard.findall("replica")]
        assert len(replicas) == 2
        for host in replicas:
            hosts[host] = f"{number:02d}"
    # Every server's macros name its shard and itself: what the replicated
    # tables' paths use ({database} and {table} are the server's own).
    used = set(re.findall(r"\{(\w+)\}", rendered))
    assert used == {"shard", "replica", "database", "table"}, used
    macros = sorted((DEPLOY / "cluster" / "server" / "macros").glob("*.xml"))
    assert [m.stem for m in macros] == sorted(hosts)
    for path in macros:
        m = ET.parse(path).getroot().find("macros")
        assert m.findtext("shard") == hosts[path.stem], path
        assert m.findtext("replica") == path.stem
    # Keeper: an odd number of voters, unique ids, and the servers use them all.
    keeper = ET.parse(DEPLOY / "cluster" / "keeper" / "keeper.xml").getroot().find("keeper_server")
    voters = keeper.findall("raft_configuration/server")
    ids = [v.findtext("id") for v in voters]
    assert len(voters) % 2 == 1 and len(set(ids)) == len(ids) >= 3
    assert keeper.find("server_id").get("from_env") == "KEEPER_SERVER_ID"
    port = keeper.findtext("tcp_port")
    nodes = [(n.findtext("host"), n.findtext("port")) for n in cluster.findall("zookeeper/node")]
    assert nodes == [(v.findtext("hostname"), port) for v in voters]


# --------------------------------------------------------------------- Helm

def helm(*args, check=True):
    assert HELM.exists(), "scripts/setup.sh installs helm into .tools/bin"
    return run([HELM, *args], check=check)


def render(*sets: str) -> list[dict]:
    args = ["template", "mesure", CHART, "--namespace", "stats"]
    for s in sets:
        args += ["--set", s]
    return [d for d in yaml.safe_load_all(helm(*args).stdout) if d]


EVERYTHING = ["serviceMonitor.enabled=true", "prometheusRule.enabled=true",
              "ingress.enabled=true", "accounts.store=postgres",
              "secrets.accountsUrl=postgres://mesure:pw@pg/mesure",
              "secrets.clickhousePassword=secret-ch", "dashboard.replicas=2",
              "clickhouse.cluster=mesure_cluster"]


def test_the_chart_lints():
    out = helm("lint", CHART, "--strict")
    assert "0 chart(s) failed" in out.stdout


@pytest.mark.parametrize("sets", [[], EVERYTHING], ids=["defaults", "everything"])
def test_rendered_manifests_match_the_kubernetes_schemas(sets):
    docs = render(*sets)
    kinds = {d["kind"] for d in docs}
    assert {"StatefulSet", "Deployment", "Job", "ConfigMap", "Secret", "Service"} <= kinds
    for doc in docs:
        if doc["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # Prometheus Operator objects: checked below
        for version in KUBERNETES:
            kubernetes_validate.validate(doc, version, strict=True)


def test_the_schema_check_catches_a_broken_manifest():
    (statefulset,) = [d for d in render() if d["kind"] == "StatefulSet"]
    broken = copy.deepcopy(statefulset)
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["pot"] = 8080
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES[-1], strict=True)


def containers(docs):
    for doc in docs:
        if doc["kind"] in ("StatefulSet", "Deployment", "Job"):
            pod = doc["spec"]["template"]["spec"]
            for c in pod["containers"]:
                yield doc, pod, c


def test_pods_are_confined_probed_and_sized():
    docs = render(*EVERYTHING)
    seen = set()
    for doc, pod, c in containers(docs):
        seen.add(c["args"][0])
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert c["resources"]["requests"]["cpu"] and c["resources"]["limits"]["memory"]
        if doc["kind"] != "Job":
            assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert seen == {"collector", "dashboard", "migrate"}
    (statefulset,) = [d for d in docs if d["kind"] == "StatefulSet"]
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    mounts = statefulset["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert {"name": claim["metadata"]["name"], "mountPath": "/var/lib/mesure/spool"} in mounts
    budgets = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    assert len(budgets) == 2
    # The migration runs before the services start or roll, as a hook.
    (job,) = [d for d in docs if d["kind"] == "Job"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    for doc in docs:
        if doc["kind"] in ("ConfigMap", "Secret") and "migrate" in doc["metadata"]["name"]:
            weight = int(doc["metadata"]["annotations"]["helm.sh/hook-weight"])
            assert weight < int(job["metadata"]["annotations"]["helm.sh/hook-weight"])


def test_the_chart_configuration_is_accepted_by_mesure(tmp_path):
    docs = render(*EVERYTHING)
    for doc in docs:
        if doc["kind"] != "ConfigMap":
            continue
        config = tmp_path / "mesure.toml"
        config.write_text(doc["data"]["mesure.toml"])
        applied = mesure_config({}, config)
        assert 'cluster = "mesure_cluster"' in applied
        assert "months = 6" in applied
    for doc, _, c in containers(docs):
        env = {e["name"]: e["value"] for e in c["env"] if "value" in e}
        env.pop("MESURE_CONFIG")
        mesure_config(env)


def test_the_chart_refuses_what_cannot_work():
    out = helm("template", "mesure", CHART, "--set", "dashboard.replicas=2", check=False)
    assert out.returncode != 0 and "accounts.store=postgres" in out.stderr
    out = helm("template", "mesure", CHART, "--set", "accounts.store=postgres", check=False)
    assert out.returncode != 0 and "secrets.accountsUrl" in out.stderr


def test_prometheus_operator_objects():
    docs = render(*EVERYTHING)
    (monitor,) = [d for d in docs if d["kind"] == "ServiceMonitor"]
    (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    assert rule["spec"]["groups"] == rules["groups"]
    label = monitor["spec"]["jobLabel"]
    selected = [d for d in docs if d["kind"] == "Service"
                and label in d["metadata"]["labels"]
                and d["metadata"]["labels"]["app.kubernetes.io/instance"] == "mesure"]
    assert sorted(d["metadata"]["labels"][label] for d in selected) == ["mesure-collector", "mesure-dashboard"]
    port = monitor["spec"]["endpoints"][0]["port"]
    for service in selected:
        assert port in [p["name"] for p in service["spec"]["ports"]]
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"


def test_secrets_stay_out_of_the_configmap():
    for doc in render(*EVERYTHING):
        if doc["kind"] == "ConfigMap":
            text = yaml.safe_dump(doc)
            assert "secret-ch" not in text and "postgres://" not in text


@pytest.fixture(autouse=True)
def _tools():
    for tool in ["docker-compose", "nginx", "promtool", "openssl"]:
        assert shutil.which(tool) or Path("/usr/sbin", tool).exists(), \
            f"{tool} is missing: run scripts/setup.sh"
