-- selftest: check_tsql
-- expect: unknown_types.sql:8:12: non-builtin type 'varchar2'
-- expect: unknown_types.sql:9:14: non-builtin type 'boolean'
-- expect: tsql-check: 1 files, 2 problems
-- Types from other dialects: ScriptDom parses any name as a user-defined type.
CREATE TABLE [dbo].[account] (
    [id] INT IDENTITY(1, 1) NOT NULL,
    [code] varchar2(10) NOT NULL,
    [active] boolean NOT NULL,
    [owner] SYSNAME NULL,
    [location] GEOGRAPHY NULL,
    CONSTRAINT [pk_account] PRIMARY KEY CLUSTERED ([id])
);
GO
