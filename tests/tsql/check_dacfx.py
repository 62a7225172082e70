#!/usr/bin/env python3
"""Validate a declarative T-SQL schema script semantically with DacFx.

    .venv-tsql/bin/python tests/tsql/check_dacfx.py FILE

FILE is a CREATE-only schema script (tables, constraints, indexes, defaults,
`EXEC sys.sp_addextendedproperty`, `GO` separators). DacFx, the engine behind
SSDT and sqlpackage, builds an in-memory database model from it for SQL Server
2019 (Sql150) and validates it the way a .dacpac build does: foreign keys to
missing tables or columns, indexes and CHECKs on missing columns, unknown
types, duplicate names, missing schemas...

Prints `FILE: dacfx: <message>` per error, then
`dacfx-check: N objects, M errors`. Exit status: 0 clean, 1 errors found,
2 usage or setup error. Statements DacFx leaves out of its model (DML, SET,
PRINT, and also `ALTER TABLE ... ADD <column>`) are listed as
`FILE:LINE: dacfx: note: ...` lines: they were not checked, but are no error.

DacFx needs ICU and OpenSSL 1.1 in the process, and the dynamic loader reads
LD_LIBRARY_PATH only at process start, so the script re-executes itself once
with the right environment: callers just run it.
"""

import ctypes.util
import os
import sys

import dotnet_env

USAGE = "usage: check_dacfx.py FILE"

# Set in the re-executed child so it does not re-exec again.
REEXEC_MARK = "TSQL_DACFX_REEXEC"


def icu_major_version():
    """Major version of the system ICU (e.g. '72'), which .NET Core 3.1 cannot find alone.

    .NET Core 3.1 only probes ICU versions it knew of in 2019; newer ones must
    be named through CLR_ICU_VERSION_OVERRIDE.
    """
    found = ctypes.util.find_library("icuuc")  # e.g. 'libicuuc.so.72'
    if not found or not found.rsplit(".", 1)[-1].isdigit():
        raise dotnet_env.SetupError("ICU not found", fix="install it (Debian 12: apt-get install libicu72)")
    return found.rsplit(".", 1)[-1]


def reexec_with_native_libs():
    """Restart this script with ICU and OpenSSL 1.1 visible to .NET, unless already done."""
    if os.environ.get(REEXEC_MARK) == "1":
        return
    env = dict(os.environ)
    library_path = [str(d) for d in dotnet_env.openssl11_dirs()]
    if env.get("LD_LIBRARY_PATH"):
        library_path.append(env["LD_LIBRARY_PATH"])
    env["LD_LIBRARY_PATH"] = ":".join(library_path)
    env.setdefault("CLR_ICU_VERSION_OVERRIDE", icu_major_version())
    # DacFx's collation support needs real culture data, so never invariant mode.
    env["DOTNET_SYSTEM_GLOBALIZATION_INVARIANT"] = "0"
    env[REEXEC_MARK] = "1"
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def load_dotnet():
    """Start .NET with DacFx and ScriptDom; return the two namespaces."""
    dotnet_env.start_runtime(
        [
            "Microsoft.SqlServer.TransactSql.ScriptDom.dll",
            "Microsoft.SqlServer.Dac.dll",
            "Microsoft.SqlServer.Dac.Extensions.dll",
        ]
    )
    import Microsoft.SqlServer.Dac.Model as dac
    import Microsoft.SqlServer.TransactSql.ScriptDom as scriptdom

    return dac, scriptdom


def split_statements(scriptdom, path, text):
    """Top-level statements as (line, sql) pairs, or parse errors as report lines.

    DacFx, like an SSDT project, insists on one statement per batch (error
    SQL71006) although SQL Server itself accepts several CREATE TABLEs in a
    batch. Splitting here keeps that SSDT rule out of the check: the generator
    need not put GO after every statement. Statement text is rebuilt from
    ScriptDom's tokens, which is exact whatever the characters in the file.
    """
    from System.IO import StringReader

    fragment, errors = scriptdom.TSql150Parser(True).Parse(StringReader(text), None)
    if errors.Count:
        return None, [f"{path}:{e.Line}:{e.Column}: scriptdom: {e.Message}" for e in errors]
    statements = []
    for batch in fragment.Batches:
        for statement in batch.Statements:
            tokens = statement_tokens(scriptdom, fragment.ScriptTokenStream, statement)
            statements.append((statement.StartLine, "".join(str(t.Text) for t in tokens)))
    return statements, []


def statement_tokens(scriptdom, stream, statement):
    """The statement's tokens, with `CREATE OR ALTER` turned into `CREATE`.

    This DacFx release silently leaves `CREATE OR ALTER` views, triggers,
    procedures and functions out of the model, so their bodies would go
    unchecked; as plain CREATEs they are modeled and validated. In a
    declarative script the two mean the same.
    """
    tokens = [stream[i] for i in range(statement.FirstTokenIndex, statement.LastTokenIndex + 1)]
    if not statement.GetType().Name.startswith("CreateOrAlter"):
        return tokens
    kinds = [t.TokenType for t in tokens]
    or_at = kinds.index(scriptdom.TSqlTokenType.Or)
    alter_at = kinds.index(scriptdom.TSqlTokenType.Alter, or_at)
    return tokens[:or_at] + tokens[alter_at + 1 :]


def add_statements(dac, model, path, statements):
    """Add each statement to the model; return (errors, notes).

    AddObjects accepts CREATE/ALTER of schema objects and
    sp_addextendedproperty calls. It silently drops statements it cannot model
    (INSERT, PRINT, ...); those are listed as notes, not errors, so nobody
    believes they were checked. Migration scripts belong to check_tsql.py.
    """
    errors, notes = [], []
    for index, (line, sql) in enumerate(statements):
        before = count_objects(dac, model)
        try:
            model.AddObjects(sql)
        except dac.DacModelException as error:
            errors += [
                f"{path}: dacfx: {describe(m)} (statement at line {line})"
                for m in error.Messages
                if str(m.MessageType) == "Error"
            ]
            # After a failed AddObjects the model takes no more objects (each
            # later call just raises the same errors again), so stop here.
            if index + 1 < len(statements):
                notes.append(f"{path}:{line}: dacfx: note: statements after this one not checked")
            break
        if count_objects(dac, model) == before:
            snippet = " ".join(sql.split())[:60]
            notes.append(f"{path}:{line}: dacfx: note: not modeled, not checked: {snippet}")
    return errors, notes


def describe(message):
    """A DacFx message as 'SQL71501: text'."""
    return f"{message.Prefix}{message.Number}: {message.Message}"


def count_objects(dac, model):
    """Number of objects the script defined (DacFx always adds DatabaseOptions: not counted)."""
    from System import Array

    objects = model.GetObjects(dac.DacQueryScopes.UserDefined, Array[dac.ModelTypeClass]([]))
    return sum(1 for obj in objects if str(obj.ObjectType.Name) != "DatabaseOptions")


def check(dac, scriptdom, path):
    """Errors and notes for one script, plus how many objects it defined."""
    try:
        with open(path, encoding="utf-8-sig") as handle:  # -sig: drop a BOM
            text = handle.read()
    except (OSError, UnicodeDecodeError) as error:
        return 0, [f"{path}: cannot read as UTF-8: {error}"], []
    statements, errors = split_statements(scriptdom, path, text)
    if errors:
        return 0, errors, []
    model = dac.TSqlModel(dac.SqlServerVersion.Sql150, dac.TSqlModelOptions())
    errors, notes = add_statements(dac, model, path, statements)
    for message in model.Validate():
        if str(message.MessageType) == "Error":
            errors.append(f"{path}: dacfx: {describe(message)}")
    # DacFx repeats some messages word for word (once per side of a clash).
    return count_objects(dac, model), list(dict.fromkeys(errors)), notes


def main(argv):
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        print(USAGE, file=sys.stderr)
        return 2
    path = argv[1]
    if not os.path.isfile(path):
        print(f"check_dacfx: no such file: {path}", file=sys.stderr)
        return 2
    try:
        reexec_with_native_libs()
        dac, scriptdom = load_dotnet()
    except (dotnet_env.SetupError, ImportError) as error:
        print(dotnet_env.setup_error_text("check_dacfx", error), file=sys.stderr)
        return 2

    objects, errors, notes = check(dac, scriptdom, path)
    for line in notes + errors:
        print(line)
    print(f"dacfx-check: {objects} objects, {len(errors)} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
