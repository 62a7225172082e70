-- Declarative schema: CREATE-only, the shape DacFx can load as a model.
CREATE TABLE [dbo].[release] (
    [id] BIGINT IDENTITY(1, 1) NOT NULL,
    [uid] UNIQUEIDENTIFIER NOT NULL CONSTRAINT [df_release_uid] DEFAULT (NEWID()),
    [name] NVARCHAR(200) NOT NULL,
    [notes] NVARCHAR(MAX) NULL,
    [released] BIT NOT NULL CONSTRAINT [df_release_released] DEFAULT ((0)),
    [created_at] DATETIME2(7) NOT NULL CONSTRAINT [df_release_created_at] DEFAULT (SYSUTCDATETIME()),
    [published_at] DATETIMEOFFSET(7) NULL,
    CONSTRAINT [pk_release] PRIMARY KEY CLUSTERED ([id] ASC),
    CONSTRAINT [uq_release_uid] UNIQUE NONCLUSTERED ([uid])
);
GO

CREATE TABLE [dbo].[artifact] (
    [id] BIGINT IDENTITY(1, 1) NOT NULL,
    [release_id] BIGINT NOT NULL,
    [path] NVARCHAR(400) NOT NULL,
    [payload] VARBINARY(MAX) NULL,
    [metadata] NVARCHAR(MAX) NULL,
    [price] DECIMAL(18, 4) NOT NULL CONSTRAINT [df_artifact_price] DEFAULT ((0)),
    [released] BIT NOT NULL CONSTRAINT [df_artifact_released] DEFAULT ((0)),
    [owner] SYSNAME NULL,
    CONSTRAINT [pk_artifact] PRIMARY KEY CLUSTERED ([id] ASC),
    CONSTRAINT [fk_artifact_release] FOREIGN KEY ([release_id])
        REFERENCES [dbo].[release] ([id]) ON DELETE CASCADE,
    CONSTRAINT [ck_artifact_metadata_json] CHECK ([metadata] IS NULL OR ISJSON([metadata]) = 1),
    CONSTRAINT [ck_artifact_price] CHECK ([price] >= 0)
);
GO

CREATE NONCLUSTERED INDEX [ix_artifact_release_id]
    ON [dbo].[artifact] ([release_id] ASC)
    INCLUDE ([path]);
GO

-- Only one unreleased artifact per path.
CREATE UNIQUE NONCLUSTERED INDEX [ux_artifact_path_unreleased]
    ON [dbo].[artifact] ([path])
    WHERE [released] = 0;
GO

EXEC sys.sp_addextendedproperty
    @name = N'MS_Description', @value = N'One published release.',
    @level0type = N'SCHEMA', @level0name = N'dbo',
    @level1type = N'TABLE', @level1name = N'release';
GO

EXEC sys.sp_addextendedproperty
    @name = N'MS_Description', @value = N'Path inside the release.',
    @level0type = N'SCHEMA', @level0name = N'dbo',
    @level1type = N'TABLE', @level1name = N'artifact',
    @level2type = N'COLUMN', @level2name = N'path';
GO
