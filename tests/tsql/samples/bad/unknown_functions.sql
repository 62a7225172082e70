-- selftest: check_tsql
-- expect: unknown_functions.sql:10:48: non-builtin function 'char_length'
-- expect: unknown_functions.sql:11:47: non-builtin function 'dbo.normalize'
-- expect: tsql-check: 1 files, 2 problems
-- Functions from other dialects, or user-defined ones: ScriptDom and DacFx accept
-- a call to any name; SQL Server refuses it when the statement runs.
CREATE TABLE [dbo].[account] (
    [id] INT IDENTITY(1, 1) NOT NULL,
    [code] NVARCHAR(10) NOT NULL,
    CONSTRAINT [ck_account_code_filled] CHECK (char_length([code]) > 0),
    CONSTRAINT [ck_account_code_upper] CHECK (dbo.normalize([code]) = UPPER([code])),
    CONSTRAINT [ck_account_code_len] CHECK (LEN([code]) > 0 AND ISJSON(N'{}') = 1 AND COALESCE([code], N'') <> N''),
    CONSTRAINT [pk_account] PRIMARY KEY CLUSTERED ([id])
);
GO
