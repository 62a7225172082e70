"""Locate and start the .NET pieces that the T-SQL checkers borrow from PyPI wheels.

No SQL Server runs on this machine, but Microsoft's own T-SQL tooling does:

* ``mssql-cli==1.0.0`` ships ScriptDom (the T-SQL parser) and DacFx (the
  schema model and validator) as .NET assemblies inside its wheel;
* ``dotnetcore2==3.1.23`` ships a .NET Core 3.1 runtime to run them on;
* ``pythonnet`` hosts that runtime inside the Python process;
* ``psycopg2-binary==2.9.5`` happens to carry OpenSSL 1.1, which .NET Core 3.1
  needs for DacFx and Debian 12 no longer packages.

Everything is found relative to the installed packages (never imported, since
importing mssqlcli or dotnetcore2 runs code we do not want), so the checkers
work from any virtualenv built by ``make tsql-venv``.
"""

import importlib.util
import os
import sys
from pathlib import Path

FIX_HINT = "run `make tsql-venv` and use .venv-tsql/bin/python"


class SetupError(Exception):
    """The machine or virtualenv lacks a piece the checkers need; the message says how to fix it."""

    def __init__(self, problem, fix=FIX_HINT):
        super().__init__(f"{problem}; to fix: {fix}")


def setup_error_text(program, error):
    """One stderr line for a SetupError, or an ImportError of pythonnet or sqlfluff."""
    if isinstance(error, SetupError):
        return f"{program}: setup error: {error}"
    return f"{program}: setup error: {error}; to fix: {FIX_HINT}"


def _package_dir(name):
    """Directory of an installed package, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SetupError(f"Python package '{name}' is not installed in {sys.prefix}")
    return Path(list(spec.submodule_search_locations)[0])


def assembly_dir():
    """Folder of the .NET assemblies bundled with mssql-cli."""
    path = _package_dir("mssqlcli") / "mssqltoolsservice" / "bin"
    if not (path / "Microsoft.SqlServer.TransactSql.ScriptDom.dll").is_file():
        raise SetupError(f"ScriptDom DLL not found under {path}")
    return path


def dotnet_root():
    """The .NET Core 3.1 installation shipped in the dotnetcore2 wheel."""
    path = _package_dir("dotnetcore2") / "bin"
    if not (path / "shared" / "Microsoft.NETCore.App").is_dir():
        raise SetupError(f".NET runtime not found under {path}")
    return path


def openssl11_dirs():
    """Directories to put on LD_LIBRARY_PATH so .NET Core 3.1 finds OpenSSL 1.1.

    The psycopg2-binary wheel renames its libraries (libssl-<hash>.so.1.1), but
    .NET looks for exactly ``libssl.so.1.1``. So we keep a folder of
    plain-named symlinks in the virtualenv; the wheel's own folder goes on the
    path too, since libssl's NEEDED entry names the hashed libcrypto.
    """
    libs = _package_dir("psycopg2").parent / "psycopg2_binary.libs"
    links = Path(sys.prefix) / "openssl-1.1"
    links.mkdir(exist_ok=True)
    for plain in ("libssl.so.1.1", "libcrypto.so.1.1"):
        stem = plain.split(".so")[0]
        found = sorted(libs.glob(f"{stem}-*.so.1.1"))
        if not found:
            raise SetupError(f"{plain} not found in {libs}")
        link = links / plain
        if not link.exists() or link.resolve() != found[0].resolve():
            # Replace atomically so concurrent runs never see a missing link.
            tmp = links / f".{plain}.{os.getpid()}"
            tmp.symlink_to(found[0])
            tmp.replace(link)
    return [links, libs]


def start_runtime(assemblies):
    """Start .NET Core 3.1 in this process and load the named assemblies.

    The caller sets the DOTNET_* / CLR_* variables first: the runtime reads
    them once, at start. We pass the runtime explicitly rather than letting
    clr_loader pick one, because it would prefer any `dotnet` on PATH.
    """
    root = dotnet_root()
    adir = assembly_dir()
    import pythonnet
    from clr_loader.util.find import find_runtimes_in_root

    specs = [r for r in find_runtimes_in_root(root) if r.name == "Microsoft.NETCore.App"]
    if not specs:
        raise SetupError(f"no Microsoft.NETCore.App runtime under {root}")
    pythonnet.load("coreclr", dotnet_root=str(root), runtime_spec=specs[0])

    import clr  # only importable after pythonnet.load

    for name in assemblies:
        clr.AddReference(str(adir / name))
