#!/usr/bin/env python3
"""Check generated T-SQL files with two independent parsers, in one process.

    .venv-tsql/bin/python tests/tsql/check_tsql.py FILE...

For each file:

1. Microsoft's ScriptDom parser (TSql150Parser, the SQL Server 2019 grammar,
   QUOTED_IDENTIFIER on) must parse the whole script, `GO` separators included.
2. Every data type in the parse tree must be a SQL Server built-in. ScriptDom
   accepts any name where a type goes (`varchar2(10)`, `boolean`) and records
   it as a user-defined type, so this catches types from other dialects.
   Likewise every function call: ScriptDom (and DacFx) accept a call to any
   name (`char_length(code)`), which SQL Server refuses at run time ("is not a
   recognized built-in function name"), so each call must name a SQL Server
   2019 built-in.
3. sqlfluff's `tsql` dialect must parse the file with no unparsable segment,
   so the files stay usable by common SQL tooling. Style rules are not run.
   (sqlfluff's Rust parser screens each file; its Python parser, the
   reference, re-checks the ones that fail, and its findings are reported.)

Prints one `FILE:LINE:COL: ...` line per problem, then
`tsql-check: N files, M problems`. Exit status: 0 clean, 1 problems found,
2 usage or setup error. The .NET runtime and sqlfluff take seconds to start,
so pass all files in one call.
"""

import os
import sys

import dotnet_env

USAGE = "usage: check_tsql.py FILE..."

# Genuine SQL Server 2019 built-in types that ScriptDom's grammar does not name,
# so it reports them as UserDataTypeReference (checked against TSql150Parser:
# every other built-in, xml aside, comes back as SqlDataTypeReference).
# `json` and `vector` also parse that way but only exist from SQL Server 2025.
BUILTIN_USER_TYPES = {"sysname", "hierarchyid", "geography", "geometry"}

# SQL Server 2019's built-in functions that ScriptDom parses as a plain
# FunctionCall (the ones with their own syntax, such as CAST, CONVERT, COALESCE,
# NULLIF, IIF, LEFT and RIGHT, get their own node types and need no list).
# From the T-SQL function reference, by category.
BUILTIN_FUNCTIONS = {
    # aggregate
    "approx_count_distinct", "avg", "checksum_agg", "count", "count_big", "grouping",
    "grouping_id", "max", "min", "stdev", "stdevp", "string_agg", "sum", "var", "varp",
    # analytic and ranking
    "cume_dist", "first_value", "lag", "last_value", "lead", "percent_rank",
    "percentile_cont", "percentile_disc", "dense_rank", "ntile", "rank", "row_number",
    # conversion
    "parse", "try_parse", "try_convert", "try_cast",
    # cryptographic
    "certencoded", "certprivatekey", "decryptbyasymkey", "decryptbycert", "decryptbykey",
    "decryptbykeyautoasymkey", "decryptbykeyautocert", "decryptbypassphrase",
    "encryptbyasymkey", "encryptbycert", "encryptbykey", "encryptbypassphrase",
    "hashbytes", "is_objectsigned", "key_guid", "key_id", "key_name", "signbyasymkey",
    "signbycert", "symkeyproperty", "verifysignedbyasymkey", "verifysignedbycert",
    "asymkey_id", "asymkeyproperty", "cert_id", "certproperty", "crypt_gen_random",
    # cursor
    "cursor_status",
    # data type
    "datalength", "ident_current", "ident_incr", "ident_seed", "identity",
    "sql_variant_property",
    # date and time
    "current_timestamp", "current_timezone", "current_timezone_id", "date_bucket",
    "dateadd", "datediff", "datediff_big", "datefromparts", "datename", "datepart",
    "datetime2fromparts", "datetimefromparts", "datetimeoffsetfromparts", "datetrunc",
    "day", "eomonth", "getdate", "getutcdate", "isdate", "month",
    "smalldatetimefromparts", "switchoffset", "sysdatetime", "sysdatetimeoffset",
    "sysutcdatetime", "timefromparts", "todatetimeoffset", "year",
    # JSON
    "isjson", "json_modify", "json_query", "json_value", "openjson",
    # logical
    "choose", "greatest", "least",
    # mathematical
    "abs", "acos", "asin", "atan", "atn2", "ceiling", "cos", "cot", "degrees", "exp",
    "floor", "log", "log10", "pi", "power", "radians", "rand", "round", "sign", "sin",
    "sqrt", "square", "tan",
    # metadata
    "app_name", "applock_mode", "applock_test", "assemblyproperty", "col_length",
    "col_name", "columnproperty", "databasepropertyex", "database_principal_id",
    "db_id", "db_name", "file_id", "file_idex", "file_name", "filegroup_id",
    "filegroup_name", "filegroupproperty", "fileproperty", "fulltextcatalogproperty",
    "fulltextserviceproperty", "index_col", "indexkey_property", "indexproperty",
    "object_definition", "object_id", "object_name",
    "object_schema_name", "objectproperty", "objectpropertyex", "original_db_name",
    "parsename", "schema_id", "schema_name", "scope_identity", "serverproperty",
    "stats_date", "type_id", "type_name", "typeproperty", "version",
    # security
    "certificate_id", "current_user", "has_dbaccess", "has_perms_by_name",
    "is_member", "is_rolemember", "is_srvrolemember", "loginproperty",
    "original_login", "permissions", "pwdencrypt", "pwdcompare", "session_user",
    "sessionproperty", "suser_id", "suser_name", "suser_sid", "suser_sname",
    "system_user", "user", "user_id", "user_name",
    # string
    "ascii", "char", "charindex", "concat", "concat_ws", "difference", "format",
    "len", "lower", "ltrim", "nchar", "patindex", "quotename", "replace", "replicate",
    "reverse", "rtrim", "soundex", "space", "str", "string_escape", "string_split",
    "stuff", "substring", "translate", "trim", "unicode", "upper",
    # system
    "binary_checksum", "checksum", "compress", "connectionproperty", "context_info",
    "current_request_id", "current_transaction_id", "decompress", "error_line",
    "error_message", "error_number", "error_procedure", "error_severity", "error_state",
    "formatmessage", "get_filestream_transaction_context", "getansinull", "host_id",
    "host_name", "isnull", "isnumeric", "min_active_rowversion", "newid",
    "newsequentialid", "rowcount_big", "session_context", "xact_state",
    # trigger
    "columns_updated", "eventdata", "trigger_nestlevel", "update",
    # rowset (in FROM, but callable where ScriptDom sees a call)
    "openquery", "openrowset", "opendatasource", "openxml",
    # text and image
    "textptr", "textvalid",
    # configuration (@@ functions are global variables in ScriptDom, not calls)
}


class ScriptDomChecker:
    """ScriptDom's parser plus a tree walk for data types; one .NET runtime for all files."""

    def __init__(self):
        # Parsing needs no culture data; invariant mode avoids needing ICU at all.
        os.environ["DOTNET_SYSTEM_GLOBALIZATION_INVARIANT"] = "1"
        dotnet_env.start_runtime(["Microsoft.SqlServer.TransactSql.ScriptDom.dll"])
        import Microsoft.SqlServer.TransactSql.ScriptDom as scriptdom

        self.scriptdom = scriptdom
        self.walker = FragmentWalker(scriptdom)

    def problems(self, path, text):
        """Parse errors and non-built-in types, as report lines."""
        from System.IO import StringReader

        parser = self.scriptdom.TSql150Parser(True)  # True: QUOTED_IDENTIFIER ON
        fragment, errors = parser.Parse(StringReader(text), None)
        found = [f"{path}:{e.Line}:{e.Column}: scriptdom: {e.Message}" for e in errors]
        if fragment is None:
            return found
        for ref in self.walker.find(fragment, self.scriptdom.UserDataTypeReference):
            if not is_builtin(ref):
                found.append(
                    f"{path}:{ref.StartLine}:{ref.StartColumn}: non-builtin type '{type_name(ref)}'"
                )
        for call in self.walker.find(fragment, self.scriptdom.FunctionCall):
            name = function_name(call)
            if name is not None:
                found.append(
                    f"{path}:{call.StartLine}:{call.StartColumn}: non-builtin function '{name}'"
                )
        return found


class FragmentWalker:
    """Finds nodes of a given type in a ScriptDom tree by following child properties.

    A Python subclass of TSqlFragmentVisitor works too, but pythonnet routes
    every one of the visitor's 1,941 virtual Visit/ExplicitVisit methods
    through Python, which made the walk 10 to 40 times slower than this
    (0.1-0.3 s against 8 ms for a 60-line file). Both found exactly the same
    data types in 200 sample files.
    """

    def __init__(self, scriptdom):
        import clr
        from System.Collections import IEnumerable

        self.fragment_type = clr.GetClrType(scriptdom.TSqlFragment)
        self.enumerable_type = clr.GetClrType(IEnumerable)
        self.children_by_type = {}

    def find(self, root, wanted):
        """Nodes under root (included) that are instances of `wanted`, in source order."""
        found = {}
        stack = [root]
        while stack:
            node = stack.pop()
            if isinstance(node, wanted):
                # Some nodes are reachable twice (e.g. SchemaObjectName's
                # Identifiers and BaseIdentifier): key by position.
                found[(node.StartOffset, node.FragmentLength)] = node
            for name, is_list in self._child_properties(node.GetType()):
                child = getattr(node, name)
                if child is None:
                    continue
                if is_list:
                    stack.extend(child)
                else:
                    stack.append(child)
        return [found[key] for key in sorted(found)]

    def _child_properties(self, clr_type):
        """(name, is_list) of the properties of a node type that hold child nodes; cached."""
        key = clr_type.FullName
        if key not in self.children_by_type:
            self.children_by_type[key] = [
                (prop.Name, is_list)
                for prop in clr_type.GetProperties()
                for is_list in [self._is_fragment_list(prop.PropertyType)]
                if prop.GetIndexParameters().Length == 0
                and (is_list or self.fragment_type.IsAssignableFrom(prop.PropertyType))
            ]
        return self.children_by_type[key]

    def _is_fragment_list(self, clr_type):
        """True for IList<T> and the like where T is a TSqlFragment type."""
        if not clr_type.IsGenericType or not self.enumerable_type.IsAssignableFrom(clr_type):
            return False
        arguments = clr_type.GetGenericArguments()
        return arguments.Length == 1 and self.fragment_type.IsAssignableFrom(arguments[0])


def type_name(reference):
    """The multi-part name of a data type reference, as written (without brackets)."""
    return ".".join(str(part.Value) for part in reference.Name.Identifiers)


def is_builtin(reference):
    """True when a UserDataTypeReference names a genuine built-in (optionally sys.-qualified)."""
    name = reference.Name
    if name.DatabaseIdentifier is not None or name.ServerIdentifier is not None:
        return False
    schema = name.SchemaIdentifier
    if schema is not None and str(schema.Value).lower() != "sys":
        return False
    return str(name.BaseIdentifier.Value).lower() in BUILTIN_USER_TYPES


def function_name(call):
    """The name of a call that is not a SQL Server built-in, or None for a built-in.

    An unqualified name must be on the built-in list; a qualified one
    (`dbo.f(x)`) is a user-defined function, never a built-in, except the
    system functions in `sys`. Method calls on a value (`x.STAsText()`) are left
    alone: they belong to the value's CLR type.
    """
    name = str(call.FunctionName.Value)
    target = call.CallTarget
    if target is None:
        return None if name.lower() in BUILTIN_FUNCTIONS else name
    identifiers = getattr(getattr(target, "MultiPartIdentifier", None), "Identifiers", None)
    if identifiers is None:
        return None
    parts = [str(part.Value) for part in identifiers]
    if len(parts) == 1 and parts[0].lower() == "sys":
        return None
    return ".".join(parts + [name])


def make_sqlfluff_linter(rust):
    """A sqlfluff Linter fixed to the tsql dialect, built from sqlfluff's defaults only.

    FluffConfig's constructor reads no config files; only the sqlfluff CLI and
    Linter.lint_paths look for .sqlfluff, setup.cfg, tox.ini or pyproject.toml
    beside the files or in $HOME, and we use neither. So no stray config can
    change how files are parsed.
    """
    from sqlfluff.core import FluffConfig, Linter

    config = FluffConfig(
        overrides={
            "dialect": "tsql",
            # Generated SQL is plain SQL: do not run it through Jinja.
            "templater": "raw",
            # Rust (sqlfluffrs, beta) or the reference Python parser; never
            # "auto", which would depend on what happens to be installed.
            "use_rust_parser": rust,
            # Never skip a file for being large.
            "large_file_skip_byte_limit": 0,
            # Nor give up on its size: the default limit of 100,000 parse nodes
            # is met by the framework's initial migration (~2,000 lines) and
            # then no tree comes back at all.
            "max_parse_nodes": 0,
        },
    )
    return Linter(config=config)


class SqlfluffChecker:
    """sqlfluff's tsql parser, fast Rust first, Python to confirm any failure.

    The Python parser takes about 14 ms a line on generated migrations (24 s
    for a 1,700-line file), the Rust one about a third of that. Clean files,
    the usual case, are parsed once by Rust; a file Rust rejects is parsed
    again by Python and only Python's findings count, so a bug in the beta
    Rust parser cannot fail the check (none was seen: both agreed on 267 files).
    """

    def __init__(self):
        self.fast = make_sqlfluff_linter(rust=True)
        self.reference = make_sqlfluff_linter(rust=False)

    def problems(self, path, text):
        """Report lines for one file."""
        found = parse_problems(self.fast, path, text)
        if found:
            found = parse_problems(self.reference, path, text)
        return found


def parse_problems(linter, path, text):
    """Unparsable segments and parse errors reported by sqlfluff, as report lines."""
    # render_string + parse_rendered rather than parse_string: parse_string
    # first applies `-- sqlfluff:dialect:...` comments found in the file,
    # which could switch the dialect away from tsql.
    rendered = linter.render_string(text, path, linter.config, "utf-8")
    parsed = linter.parse_rendered(rendered)
    problems = []
    if parsed.tree is not None:
        for segment in parsed.tree.recursive_crawl("unparsable"):
            pos = segment.pos_marker
            snippet = " ".join(segment.raw.split())[:60]
            problems.append(
                f"{path}:{pos.line_no}:{pos.line_pos}: sqlfluff: unparsable segment: {snippet}"
            )
    # Lexing or templating failures leave no tree; report them rather than
    # passing silently. Each unparsable segment also appears here: skip those.
    for error in parsed.violations:
        if "Found unparsable section" in error.desc():
            continue
        problems.append(f"{path}:{error.line_no}:{error.line_pos}: sqlfluff: {error.desc()}")
    return problems


def read_sql(path):
    """File text; a BOM (which SSMS likes to write) is dropped."""
    with open(path, encoding="utf-8-sig") as handle:
        return handle.read()


def check_file(scriptdom, sqlfluff, path):
    """All problem lines for one file: ScriptDom's first, then sqlfluff's."""
    try:
        text = read_sql(path)
    except (OSError, UnicodeDecodeError) as error:
        return [f"{path}:1:1: cannot read as UTF-8: {error}"]
    return scriptdom.problems(path, text) + sqlfluff.problems(path, text)


def main(argv):
    paths = argv[1:]
    if not paths or paths[0] in ("-h", "--help"):
        print(USAGE, file=sys.stderr)
        return 2
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        print(f"check_tsql: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        scriptdom = ScriptDomChecker()
        sqlfluff = SqlfluffChecker()
    except (dotnet_env.SetupError, ImportError) as error:
        print(dotnet_env.setup_error_text("check_tsql", error), file=sys.stderr)
        return 2

    count = 0
    for path in paths:
        problems = check_file(scriptdom, sqlfluff, path)
        for line in problems:
            print(line, flush=True)
        count += len(problems)
    print(f"tsql-check: {len(paths)} files, {count} problems")
    return 1 if count else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
