-- Migration script: guarded, re-runnable changes plus seed data.
SET XACT_ABORT ON;
GO

IF OBJECT_ID(N'[dbo].[tag]', N'U') IS NULL
BEGIN
    CREATE TABLE [dbo].[tag] (
        [id] INT IDENTITY(1, 1) NOT NULL,
        [name] NVARCHAR(100) NOT NULL,
        [label] NVARCHAR(100) NULL,
        [updated_at] DATETIME2(7) NOT NULL CONSTRAINT [df_tag_updated_at] DEFAULT (SYSUTCDATETIME()),
        CONSTRAINT [pk_tag] PRIMARY KEY CLUSTERED ([id])
    );
END;
GO

IF COL_LENGTH(N'[dbo].[tag]', N'colour') IS NULL
BEGIN
    ALTER TABLE [dbo].[tag] ADD [colour] NVARCHAR(20) NULL;
END;
GO

IF COL_LENGTH(N'[dbo].[tag]', N'label') IS NOT NULL
    AND COL_LENGTH(N'[dbo].[tag]', N'title') IS NULL
BEGIN
    EXEC sp_rename N'[dbo].[tag].[label]', N'title', N'COLUMN';
END;
GO

IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE [name] = N'ux_tag_name' AND [object_id] = OBJECT_ID(N'[dbo].[tag]'))
BEGIN
    CREATE UNIQUE NONCLUSTERED INDEX [ux_tag_name] ON [dbo].[tag] ([name]);
END;
GO

CREATE OR ALTER TRIGGER [dbo].[tr_tag_touch]
ON [dbo].[tag]
AFTER UPDATE
AS
BEGIN
    SET NOCOUNT ON;
    UPDATE [t]
    SET [updated_at] = SYSUTCDATETIME()
    FROM [dbo].[tag] AS [t]
    INNER JOIN inserted AS [i] ON [i].[id] = [t].[id];
END;
GO

BEGIN TRANSACTION;

MERGE INTO [dbo].[tag] WITH (HOLDLOCK) AS [target]
USING (VALUES
    (N'stable'),
    (N'beta')
) AS [source] ([name])
ON [target].[name] = [source].[name]
WHEN NOT MATCHED BY TARGET THEN
    INSERT ([name]) VALUES ([source].[name]);

IF NOT EXISTS (SELECT 1 FROM [dbo].[tag] WHERE [name] = N'nightly')
BEGIN
    INSERT INTO [dbo].[tag] ([name]) VALUES (N'nightly');
END;

COMMIT TRANSACTION;
GO
