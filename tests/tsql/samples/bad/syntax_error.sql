-- selftest: check_tsql
-- expect: syntax_error.sql:7:5: scriptdom: Incorrect syntax near [notes].
-- A missing comma between two column definitions.
CREATE TABLE [dbo].[release] (
    [id] BIGINT IDENTITY(1, 1) NOT NULL,
    [name] NVARCHAR(200) NOT NULL
    [notes] NVARCHAR(MAX) NULL,
    CONSTRAINT [pk_release] PRIMARY KEY CLUSTERED ([id])
);
GO
