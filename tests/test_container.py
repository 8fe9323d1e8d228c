"""Checks for the container and self-hosting files.

No Docker engine is needed: the Dockerfile is read as text and its invariants
checked, and the Dockerfile's own CMD is started outside Docker to prove that the
start command, the Streamlit config and the health check work together. The
compose and Kubernetes files are checked in tests/test_deploy.py.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
CONTAINER_PORT = "8501"
HEALTH_PATH = "/_stcore/health"


# ---------------------------------------------------------------- Dockerfile parsing


def parse_dockerfile(text: str) -> list[tuple[str, str]]:
    """Return (INSTRUCTION, arguments) pairs, with continuation lines joined.

    Like Docker, comment lines are dropped even inside a continued instruction.
    """
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, args = line.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    assert not pending, "Dockerfile ends inside a continued line"
    return instructions


def parse_assignments(args: str) -> dict[str, str]:
    """Parse the arguments of ENV or ARG (``K=V K2="V 2"``, or legacy ``K V``)."""
    tokens = shlex.split(args)
    if tokens and "=" not in tokens[0]:
        if len(tokens) == 1:  # ARG without a default
            return {tokens[0]: ""}
        return {tokens[0]: " ".join(tokens[1:])}
    return dict(token.split("=", 1) for token in tokens)


def expand(text: str, variables: dict[str, str]) -> str:
    """Substitute ${VAR} and $VAR with the Dockerfile's ARG/ENV defaults."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return variables.get(name, match.group(0))

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", replace, text)


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return parse_dockerfile(DOCKERFILE.read_text())


def instructions_of(dockerfile, keyword: str) -> list[str]:
    return [args for kw, args in dockerfile if kw == keyword]


def declared_variables(dockerfile) -> dict[str, str]:
    variables: dict[str, str] = {}
    for keyword, args in dockerfile:
        if keyword in ("ARG", "ENV"):
            variables.update(parse_assignments(args))
    return variables


def dockerfile_env(dockerfile) -> dict[str, str]:
    env: dict[str, str] = {}
    for args in instructions_of(dockerfile, "ENV"):
        env.update(parse_assignments(args))
    return env


def exec_form(args: str) -> list[str]:
    """Parse a JSON-array (exec form) argument list, failing on shell form."""
    try:
        value = json.loads(args)
    except json.JSONDecodeError:
        pytest.fail(f"not in exec (JSON array) form: {args!r}")
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def start_command(dockerfile) -> list[str]:
    cmds = instructions_of(dockerfile, "CMD")
    assert len(cmds) == 1, "expected exactly one CMD"
    return exec_form(cmds[0])


def healthcheck_command(dockerfile) -> list[str]:
    checks = instructions_of(dockerfile, "HEALTHCHECK")
    assert len(checks) == 1, "expected exactly one HEALTHCHECK"
    # Options such as --interval=30s come before CMD.
    _, cmd_keyword, command = checks[0].partition("CMD ")
    assert cmd_keyword, f"HEALTHCHECK has no CMD: {checks[0]!r}"
    return exec_form(command.strip())


def torch_pin() -> str:
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        match = re.match(r"^torch==(\S+)", line.strip())
        if match:
            return match.group(1)
    pytest.fail("requirements.txt has no torch== pin")


# ---------------------------------------------------------------- (a) Dockerfile


def test_base_image_is_slim_python(dockerfile):
    froms = instructions_of(dockerfile, "FROM")
    assert froms, "no FROM"
    assert re.fullmatch(r"python:3\.\d+-slim(-\w+)?( AS \w+)?", froms[-1], re.I), froms[-1]


def test_torch_comes_from_cpu_index_in_its_own_layer(dockerfile):
    variables = declared_variables(dockerfile)
    runs = [(i, expand(args, variables)) for i, (kw, args) in enumerate(dockerfile) if kw == "RUN"]

    torch_runs = [(i, run) for i, run in runs
                  if "--index-url" in run and re.search(r"\btorch\b", run)]
    assert len(torch_runs) == 1, "expected one RUN installing torch from a wheel index"
    torch_index, torch_run = torch_runs[0]
    index_url = re.search(r"--index-url[ =]\"?([^\"\s]+)", torch_run).group(1)
    assert index_url == CPU_INDEX, "the default build must take torch from the CPU wheel index"
    assert f"torch=={torch_pin()}" in torch_run, "torch version differs from requirements.txt"

    requirement_runs = [(i, run) for i, run in runs if re.search(r"pip install .*-r\s", run)]
    assert len(requirement_runs) == 1, "expected one RUN installing the requirements file"
    requirements_index, requirements_run = requirement_runs[0]
    assert requirements_index != torch_index, "torch and the other requirements share a layer"
    assert torch_index < requirements_index, "torch layer should come first so it is cached"
    # The torch pin must be filtered out, or pip would fetch torch again from PyPI.
    assert re.search(r"grep -v\b.*\^torch", requirements_run), requirements_run
    assert "--index-url" not in requirements_run and "--extra-index-url" not in requirements_run


def test_torch_index_is_a_build_arg(dockerfile):
    args = {}
    for a in instructions_of(dockerfile, "ARG"):
        args.update(parse_assignments(a))
    assert args.get("TORCH_INDEX") == CPU_INDEX


def test_runs_as_non_root_user(dockerfile):
    users = instructions_of(dockerfile, "USER")
    assert users, "no USER: the container would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), users[-1]
    # USER must come before CMD, or it would not apply to the server.
    keywords = [kw for kw, _ in dockerfile]
    last_user = max(i for i, kw in enumerate(keywords) if kw == "USER")
    assert last_user < keywords.index("CMD")


def test_exposes_streamlit_port(dockerfile):
    exposed = " ".join(instructions_of(dockerfile, "EXPOSE")).split()
    assert CONTAINER_PORT in exposed or f"{CONTAINER_PORT}/tcp" in exposed


def test_healthcheck_uses_python_against_health_endpoint(dockerfile):
    command = healthcheck_command(dockerfile)
    assert command[0] in ("python", "python3"), "slim images have no curl or wget"
    assert f"http://localhost:{CONTAINER_PORT}{HEALTH_PATH}" in " ".join(command)


def test_environment(dockerfile):
    env = dockerfile_env(dockerfile)
    assert env.get("OMP_NUM_THREADS") == "1"
    assert env.get("MKL_NUM_THREADS") == "1"
    assert env.get("RNNVIZ_RUNS_DIR") == "/data/runs"
    volumes = " ".join(instructions_of(dockerfile, "VOLUME"))
    assert "/data/runs" in volumes, "the runs directory should be a VOLUME"


def test_copied_sources_exist_and_are_not_dockerignored(dockerfile):
    ignore_patterns = [
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.strip().startswith("#") and not line.strip().startswith("!")
    ]
    for must_ignore in (".git", ".venv", "tests", "**/__pycache__", "screenshots"):
        assert must_ignore in ignore_patterns, f".dockerignore should exclude {must_ignore}"

    copied = []
    for args in instructions_of(dockerfile, "COPY"):
        parts = [p for p in args.split() if not p.startswith("--")]
        copied += [p.rstrip("/") for p in parts[:-1]]
    for required in ("app.py", "pages", "rnnviz", "assets", ".streamlit", "requirements.txt"):
        assert required in copied, f"Dockerfile does not copy {required}"
    for source in copied:
        assert (ROOT / source).exists(), f"COPY source {source} is missing from the build context"
        hits = [p for p in ignore_patterns if fnmatch.fnmatch(source, p)]
        assert not hits, f"{source} is copied but excluded by .dockerignore ({hits})"


def test_cmd_starts_streamlit_on_all_interfaces(dockerfile):
    command = start_command(dockerfile)
    assert command[:3] == ["streamlit", "run", "app.py"]
    assert f"--server.port={CONTAINER_PORT}" in command
    assert "--server.address=0.0.0.0" in command


# ---------------------------------------------------------------- (b) Streamlit config

PRODUCTION_SETTINGS = {
    ("server", "headless"): True,
    ("server", "fileWatcherType"): "none",
    ("server", "enableXsrfProtection"): True,
    ("server", "maxUploadSize"): 16,
    ("runner", "postScriptGC"): False,
    ("server", "runOnSave"): False,
    ("browser", "gatherUsageStats"): False,
    ("client", "toolbarMode"): "viewer",
}


def flatten(table: dict, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def isolated_env(**extra: str) -> dict[str, str]:
    """The current environment without STREAMLIT_* overrides, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    env.update(extra)
    return env


def test_streamlit_config_has_production_settings():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    for (section, key), expected in PRODUCTION_SETTINGS.items():
        assert config.get(section, {}).get(key) == expected, f"{section}.{key}"


def test_streamlit_config_keys_are_known_to_streamlit():
    from streamlit import config as st_config

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    known = set(st_config._config_options_template)
    unknown = sorted(set(flatten(config)) - known)
    assert not unknown, f"Streamlit does not know these options: {unknown}"


@pytest.mark.timeout(60)
def test_streamlit_reads_config_without_warnings(tmp_path):
    # A clean HOME keeps a personal ~/.streamlit/config.toml out of the picture.
    result = subprocess.run(
        [sys.executable, "-m", "streamlit", "config", "show"],
        cwd=ROOT,
        env=isolated_env(HOME=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "not a valid config option" not in output
    assert "Unrecognized config option" not in output
    assert re.search(r"^maxUploadSize = 16$", result.stdout, re.M), "config.toml was not applied"
    assert re.search(r'^toolbarMode = "viewer"$', result.stdout, re.M)


# ---------------------------------------------------------------- (d) the start command


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("", 0))
        return sock.getsockname()[1]


def http_get(url: str, timeout: float = 2.0) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read().decode("utf-8", "replace")


def run_healthcheck(command: list[str], port: int, env: dict[str, str]) -> int:
    """Run the Dockerfile's HEALTHCHECK command against ``port``; return its exit code."""
    python = [sys.executable if part in ("python", "python3") else part for part in command[:1]]
    rest = [part.replace(f"localhost:{CONTAINER_PORT}", f"localhost:{port}")
            for part in command[1:]]
    return subprocess.run(python + rest, env=env, capture_output=True, timeout=15).returncode


@pytest.mark.timeout(120)
def test_dockerfile_cmd_serves_the_app(dockerfile, tmp_path):
    """Start the Dockerfile's CMD (outside Docker) and check it serves health and the page."""
    command = start_command(dockerfile)
    assert command[0] == "streamlit"
    port = free_port()
    port_flag = f"--server.port={CONTAINER_PORT}"
    assert command.count(port_flag) == 1
    argv = [sys.executable, "-m", "streamlit"] + [
        f"--server.port={port}" if part == port_flag else part for part in command[1:]
    ]

    env = isolated_env(HOME=str(tmp_path / "home"))
    env.update(dockerfile_env(dockerfile))
    env["RNNVIZ_RUNS_DIR"] = str(tmp_path / "runs")  # keep test output out of /data
    (tmp_path / "home").mkdir()
    (tmp_path / "runs").mkdir()

    healthcheck = healthcheck_command(dockerfile)
    assert run_healthcheck(healthcheck, port, env) != 0, "health check passes with no server"

    log_path = tmp_path / "streamlit.log"
    health_url = f"http://127.0.0.1:{port}{HEALTH_PATH}"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            body = None
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    break
                try:
                    status, body = http_get(health_url)
                    if status == 200 and body.strip() == "ok":
                        break
                except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                    pass
                time.sleep(0.25)
            assert process.poll() is None, f"server exited:\n{log_path.read_text()[-3000:]}"
            assert body is not None and body.strip() == "ok", (
                f"no 'ok' from {health_url} within 60 s:\n{log_path.read_text()[-3000:]}"
            )

            status, page = http_get(f"http://127.0.0.1:{port}/", timeout=10)
            assert status == 200
            assert "<html" in page.lower()

            assert run_healthcheck(healthcheck, port, env) == 0, \
                "HEALTHCHECK fails on a live server"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    output = log_path.read_text()
    assert "not a valid config option" not in output, output
    assert "Traceback" not in output, output
