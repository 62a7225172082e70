-- selftest: check_dacfx
-- expect: dacfx: SQL71501: Error validating element [dbo].[fk_artifact_release]: SqlForeignKeyConstraint: [dbo].[fk_artifact_release] has an unresolved reference to object [dbo].[release].
-- expect: has an unresolved reference to SqlSimpleColumn [dbo].[bucket].[bucket_id].
-- expect: dacfx-check: 6 objects, 4 errors
-- Parses fine; only a model of the whole schema shows that one foreign key
-- names a table that is never created and another a column that does not exist.
CREATE TABLE [dbo].[bucket] (
    [id] INT IDENTITY(1, 1) NOT NULL,
    [name] NVARCHAR(100) NOT NULL,
    CONSTRAINT [pk_bucket] PRIMARY KEY CLUSTERED ([id])
);
GO

CREATE TABLE [dbo].[artifact] (
    [id] BIGINT IDENTITY(1, 1) NOT NULL,
    [release_id] BIGINT NOT NULL,
    [bucket_id] INT NULL,
    CONSTRAINT [pk_artifact] PRIMARY KEY CLUSTERED ([id]),
    CONSTRAINT [fk_artifact_release] FOREIGN KEY ([release_id])
        REFERENCES [dbo].[release] ([id])
);
GO

ALTER TABLE [dbo].[artifact] ADD CONSTRAINT [fk_artifact_bucket]
    FOREIGN KEY ([bucket_id]) REFERENCES [dbo].[bucket] ([bucket_id]);
GO
