"""Project-level checks: the wheel holds every module, import boundaries hold,
ruff and mypy (strict on cove.protocol, cove.server and cove.client) are clean.

The boundaries are those of design.md §2:

* ``cove.protocol`` imports only the standard library, ``cryptography`` (only in
  ``cove.protocol.crypto``) and ``msgpack`` (only in the wire/app layers); it
  uses no asyncio, sockets, files, clock or global randomness — ``os`` and
  ``secrets`` only in the randomness provider.
* ``cove.protocol.mls`` never imports ``cove.protocol.wire``.
* ``cove.server`` and ``cove.client`` never import each other.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"protocol": "cove.protocol", "server": "cove.server", "client": "cove.client"}
BIN = Path(sys.executable).parent

FORBIDDEN_IN_PROTOCOL = {
    "asyncio",
    "socket",
    "sqlite3",
    "aiohttp",
    "aiosqlite",
    "time",
    "random",
    "threading",
    "subprocess",
    "logging",
    "os",
    "secrets",
    "pathlib",
    "io",
}
#: module (dotted, under cove.protocol) -> extra top-level imports it may use
PROTOCOL_EXCEPTIONS = {
    "cove.protocol.crypto": {"cryptography"},
    # Ed25519 and X25519 through libsodium, the faster binding (see its docstring)
    "cove.protocol.crypto.sodium": {"nacl"},
    "cove.protocol.crypto.rng": {"os", "secrets"},
    # the one msgpack schema engine; wire envelopes and app records go through it
    "cove.protocol.codec.schema": {"msgpack"},
}
THIRD_PARTY_OK_IN_PROTOCOL = {"cryptography", "msgpack", "nacl"}


def _modules() -> dict[str, Path]:
    out = {}
    for folder, name in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            out[".".join([name, *parts])] = path
    return out


def _imports(module: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                if not is_pkg:
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
                if node.module is None:
                    found.update(f"{target}.{a.name}" for a in node.names)
                else:
                    found.add(target)
            elif node.module:
                found.add(node.module)
    return found


def _allowed_extras(module: str) -> set[str]:
    extra: set[str] = set()
    for prefix, names in PROTOCOL_EXCEPTIONS.items():
        if module == prefix or module.startswith(prefix + "."):
            extra |= names
    return extra


def test_import_boundaries() -> None:
    stdlib = set(sys.stdlib_module_names)
    problems = []
    for module, path in _modules().items():
        for imp in _imports(module, path):
            top = imp.split(".")[0]
            if module.startswith("cove.protocol"):
                extra = _allowed_extras(module)
                if imp.startswith("cove."):
                    if not imp.startswith("cove.protocol"):
                        problems.append(f"{module} imports {imp}")
                    if module.startswith("cove.protocol.mls") and imp.startswith(
                        "cove.protocol.wire"
                    ):
                        problems.append(f"{module} imports {imp}")
                elif top in extra:
                    continue
                elif (
                    top in FORBIDDEN_IN_PROTOCOL
                    or top in THIRD_PARTY_OK_IN_PROTOCOL
                    or (top not in stdlib and top != "__future__")
                ):
                    problems.append(f"{module} imports {imp}")
            else:
                side = module.split(".")[1]
                other = {"server": "cove.client", "client": "cove.server"}[side]
                if imp.startswith(other):
                    problems.append(f"{module} imports {imp}")
    assert problems == []


def test_boundary_checker_catches_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import asyncio\nfrom ..wire import api\n")
    imports = _imports("cove.protocol.mls.bad", bad)
    assert "asyncio" in imports
    assert "cove.protocol.wire" in imports


@pytest.mark.slow
def test_wheel_contains_every_module(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for folder in PACKAGES:
        shutil.copytree(ROOT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    dist = tmp_path / "dist"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(dist),
            str(src),
        ],
        check=True,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    # Every folder Python can import is listed in [tool.setuptools] packages (an
    # install printed a warning for the relay's migrations folder).
    assert "absent from the `packages` configuration" not in build.stdout + build.stderr
    (wheel,) = dist.glob("cove-*.whl")
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(site),
            str(wheel),
        ],
        check=True,
    )
    modules = sorted(_modules())
    script = (
        "import importlib, sys\n"
        f"site = {str(site)!r}\n"
        "for m in sys.argv[1:]:\n"
        "    mod = importlib.import_module(m)\n"
        "    assert mod.__file__.startswith(site), (m, mod.__file__)\n"
        "print('imported', len(sys.argv) - 1)\n"
    )
    purelib = sysconfig.get_paths()["purelib"]
    # -S: no site processing, so the editable install's finder is not loaded;
    # the venv's site-packages is added by hand, after the wheel's folder.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), purelib])}
    out = subprocess.run(
        [sys.executable, "-S", "-c", script, *modules],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert out.stdout.strip() == f"imported {len(modules)}"
    shipped = subprocess.run(
        [sys.executable, "-S", "-c",
         "from cove.server.storage.sqlite import migrations; print(len(migrations()))"],
        check=True, capture_output=True, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert int(shipped.stdout) == len(list((ROOT / "server/storage/migrations").glob("*.sql")))


def test_ruff_clean() -> None:
    subprocess.run([str(BIN / "ruff"), "check", "--no-cache", "."], check=True, cwd=ROOT)
    subprocess.run(
        [str(BIN / "ruff"), "format", "--check", "--no-cache", "."], check=True, cwd=ROOT
    )


@pytest.mark.slow
def test_mypy_strict_on_the_whole_package(tmp_path: Path) -> None:
    # mypy needs the import names cove.protocol, cove.server, cove.client; the source
    # folders are protocol/, server/, client/.
    (tmp_path / "cove").mkdir()
    packages = []
    for folder, name in PACKAGES.items():
        (tmp_path / "cove" / folder).symlink_to(ROOT / folder)
        packages += ["-p", name]
    out = subprocess.run(
        [
            str(BIN / "mypy"),
            "--strict",
            "--cache-dir",
            str(ROOT / ".mypy_cache"),
            *packages,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_one_place_reads_ci() -> None:
    readers = sorted(
        str(p.relative_to(ROOT))
        for p in (ROOT / "tests").rglob("*.py")
        if "environ" in (text := p.read_text()) and ('"CI"' in text or "'CI'" in text)
    )
    readers.remove("tests/test_project.py")  # this test
    assert readers == ["tests/support/ci.py"]
