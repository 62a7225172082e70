-- selftest: check_tsql
-- expect: batch_first.sql:12:1: scriptdom: Incorrect syntax near CREATE.
-- CREATE TRIGGER must start its batch: the GO before it is missing.
-- (sqlfluff accepts this; SQL Server and ScriptDom do not.)
CREATE TABLE [dbo].[tag] (
    [id] INT IDENTITY(1, 1) NOT NULL,
    [name] NVARCHAR(100) NOT NULL,
    [updated_at] DATETIME2(7) NOT NULL,
    CONSTRAINT [pk_tag] PRIMARY KEY CLUSTERED ([id])
);

CREATE TRIGGER [dbo].[tr_tag_touch] ON [dbo].[tag] AFTER UPDATE AS
BEGIN
    SET NOCOUNT ON;
    UPDATE [dbo].[tag] SET [updated_at] = SYSUTCDATETIME()
    WHERE [id] IN (SELECT [id] FROM inserted);
END;
GO
