-- selftest: check_tsql
-- expect: sqlfluff_with_values.sql:6:1: sqlfluff: unparsable segment: IF COL_LENGTH(N'[dbo].[tag]', N'archived') IS NULL
-- expect: tsql-check: 1 files, 1 problems
-- Valid T-SQL (ScriptDom and SQL Server accept it) that sqlfluff's tsql
-- dialect cannot parse: WITH VALUES on a column added with a default.
IF COL_LENGTH(N'[dbo].[tag]', N'archived') IS NULL
BEGIN
    ALTER TABLE [dbo].[tag] ADD [archived] BIT NULL CONSTRAINT [df_tag_archived] DEFAULT ((0)) WITH VALUES;
END;
GO
